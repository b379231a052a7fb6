"""What a hook is: something a `hook` task runs instead of a model, given the task's input and args."""

from dataclasses import dataclass, field
from typing import Any, Protocol


class HookFailed(Exception):
    """The hook could not produce an output (timeout, refused, bad reply): the task fails and its
    `retry_on_failure` and `on_failure` apply."""


@dataclass(frozen=True)
class HookCall:
    """One call of a hook from a task."""

    hook: str
    chain_id: str
    task_id: str
    input: Any
    input_type: str
    args: dict = field(default_factory=dict)
    timeout_s: float | None = None  # the task's timeout; None: no limit of the task's own
    chain_started_at: str = ""  # when the chain run started (ISO 8601, UTC): contenox's `startingTime`


@dataclass(frozen=True)
class HookResult:
    output: Any
    output_type: str
    # What the task's branches compare against; empty: the output as text.
    transition: str = ""


class LocalHook(Protocol):
    """A hook that runs in this process. One module per hook, registered in `hooks.LOCAL_HOOKS`."""

    description: str

    def run(self, call: HookCall) -> HookResult: ...
