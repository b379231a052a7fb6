"""Remote hooks: a RemoteHook row names an endpoint; calling it sends the task's input and args.

The wire protocol is contenox's. Request (a JSON body): `{"startingTime", "input", "dataType",
"transition", "args": {"name", "args"}}` (`args` is the task's hook call: the hook's name and the
task's rendered args), plus `hook`, `chainID` and `taskID`; a GET hook gets `input` and the args as
query parameters instead. Reply: `{"output", "dataType", "transition", "error"}`: a non-empty
`error` fails the task, `dataType` (when given) types the output, `transition` is what the
branches compare. Any other JSON is the output itself. A timeout, or a reply that is not 2xx or
not JSON, fails the task.
"""

from dataclasses import dataclass
from typing import Any

from apps.chains import values
from apps.chains.hooks import transport
from apps.chains.hooks.base import HookCall, HookFailed, HookResult
from apps.chains.models import RemoteHook
from apps.core.errors import Invalid


@dataclass(frozen=True)
class RemoteTarget:
    """A remote hook as a chain run sees it: read once, before the run, so runs never query the DB."""

    name: str
    endpoint_url: str
    method: str
    timeout_s: float

    @classmethod
    def of(cls, hook: RemoteHook) -> "RemoteTarget":
        return cls(name=hook.name, endpoint_url=hook.endpoint_url, method=hook.method, timeout_s=hook.timeout_ms / 1000)


def remote_hook_call(target: RemoteTarget, call: HookCall) -> HookResult:
    timeout_s = target.timeout_s if call.timeout_s is None else min(target.timeout_s, call.timeout_s)
    payload = {
        "startingTime": call.chain_started_at,
        "input": call.input,
        "dataType": call.input_type,
        "transition": "",
        "args": {"name": target.name, "args": call.args},
        "hook": target.name,
        "chainID": call.chain_id,
        "taskID": call.task_id,
    }
    what = f"remote hook {target.name!r} ({target.method} {target.endpoint_url})"
    if target.method == "GET":
        params = {"input": values.as_text(call.input), **{key: values.as_text(v) for key, v in call.args.items()}}
        reply = transport.send(what=what, method="GET", url=target.endpoint_url, timeout_s=timeout_s, params=params)
    else:
        reply = transport.send(
            what=what, method=target.method, url=target.endpoint_url, timeout_s=timeout_s, json_body=payload
        )
    answer = reply.json(what)
    if not (isinstance(answer, dict) and ("output" in answer or "error" in answer)):
        return HookResult(output=answer, output_type=values.type_of(answer))
    error = answer.get("error")
    if error:
        raise HookFailed(f"{what} failed: {values.as_text(error)[:500]}")
    output, output_type = typed_output(answer.get("output"), answer.get("dataType"), what=what)
    transition = answer.get("transition")
    return HookResult(
        output=output, output_type=output_type, transition=transition if isinstance(transition, str) else ""
    )


def typed_output(output: Any, data_type: Any, *, what: str) -> tuple[Any, str]:
    """A hook reply's output converted to its `dataType` (its own type when none is given)."""
    if data_type in (None, ""):
        return output, values.type_of(output)
    if not isinstance(data_type, str) or data_type not in values.TYPES:
        raise HookFailed(f"{what} answered an unknown dataType {data_type!r}; use one of {', '.join(values.TYPES)}")
    if data_type == values.INT and isinstance(output, float) and output.is_integer():
        output = int(output)  # JSON has one number type: 4.0 is a fine int
    try:
        return values.coerce_input(output, data_type), data_type
    except Invalid as error:
        raise HookFailed(f"{what} answered an output that is not its dataType {data_type!r}: {error.message}") from None
