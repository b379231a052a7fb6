"""The task-chain engine: runs a validated Chain from its first task until a branch ends it.

Per task: pick the input (`input_var`, else the previous task's output), render
`prompt_template` (which then becomes the input), run the handler with the task's timeout, retry
up to `retry_on_failure` times, `compose` another variable into the output (as contenox does),
then follow the matching branch, or `on_failure` when every attempt failed. Every attempt is one
captured state unit and one step; more than `max_steps` steps stops the chain (a loop). The
engine touches no database: remote hooks and the default model are resolved before it starts.
"""

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from apps.chains import compose, templates, transitions, values
from apps.chains.definitions import MODEL_HANDLERS, Chain, Task
from apps.chains.errors import TaskFailed
from apps.chains.handlers import Attempt, Outcome, handler_run
from apps.chains.hooks.remote import RemoteTarget
from apps.chains.templates import TemplateError

logger = logging.getLogger(__name__)


class ChainStopped(Exception):
    """The chain cannot go on: a task failed with no `on_failure`, no branch matched, a loop."""


class ChainCancelled(ChainStopped):
    """Someone asked the run to stop (raised by `on_step`)."""


@dataclass
class ChainResult:
    """How a run ended: the response body's parts, the log of prints and alerts, and the error."""

    output: Any = None
    output_type: str = values.ANY
    state: list[dict] = field(default_factory=list)
    log: list[dict] = field(default_factory=list)
    steps: int = 0
    duration_ns: int = 0
    error: str = ""
    cancelled: bool = False

    @property
    def succeeded(self) -> bool:
        return not self.error

    def response(self) -> dict:
        """The runtime spec's execapi_taskExecutionResponse."""
        return {"output": self.output, "outputType": self.output_type, "state": self.state}


def chain_execute(
    chain: Chain,
    *,
    input: Any,
    input_type: str,
    default_model: str = "",
    remote_hooks: Mapping[str, RemoteTarget] | None = None,
    max_steps: int = 100,
    default_timeout_s: float | None = None,
    on_step: Callable[[int, str], None] | None = None,
) -> ChainResult:
    """Run `chain` on `input`. Never raises for a failing chain: the result carries the error.

    `on_step(step, task_id)` is called before each task run: a job reports progress there, and
    raises ChainCancelled to stop the chain when asked to.
    """
    run = _ChainRun(
        chain,
        default_model=default_model,
        remote_hooks=remote_hooks or {},
        max_steps=max_steps,
        default_timeout_s=default_timeout_s,
        on_step=on_step,
    )
    return run.execute(input, input_type)


def run_bounded(function: Callable[[], Outcome], timeout_s: float | None, *, name: str) -> Outcome:
    """`function()` in its own thread, waiting at most `timeout_s`.

    A model call cannot be interrupted from outside: after a timeout its thread is left to finish
    on its own (the backend's timeout bounds it) and its answer is dropped. A fresh thread also
    keeps the backends app's event loop apart from an ASGI server's thread-sensitive context.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["outcome"] = function()
        except BaseException as error:  # handed to the waiting thread below
            box["error"] = error

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise TaskFailed(f"timed out after {timeout_s:g} s")
    if "error" in box:
        raise box["error"]
    return box["outcome"]


class _ChainRun:
    def __init__(
        self,
        chain: Chain,
        *,
        default_model: str,
        remote_hooks: Mapping[str, RemoteTarget],
        max_steps: int,
        default_timeout_s: float | None,
        on_step: Callable[[int, str], None] | None,
    ) -> None:
        self.chain = chain
        self.default_model = default_model
        self.remote_hooks = remote_hooks
        self.max_steps = max_steps
        self.default_timeout_s = default_timeout_s
        self.on_step = on_step
        self.result = ChainResult()
        self.variables: dict[str, Any] = {}
        self.types: dict[str, str] = {}
        self.trail: list[str] = []
        self.started_at = ""

    def execute(self, input: Any, input_type: str) -> ChainResult:
        started = time.monotonic_ns()
        self.started_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        self.variables = {"input": input, "previous_output": input, "error": ""}
        self.types = {"input": input_type, "previous_output": input_type, "error": values.STRING}
        try:
            task: Task | None = self.chain.tasks[0]
            value, value_type = input, input_type
            while task is not None:
                task, value, value_type = self.visit(task, value, value_type)
        except ChainStopped as stop:
            self.result.error = str(stop)
            self.result.cancelled = isinstance(stop, ChainCancelled)
        finally:
            self.result.duration_ns = time.monotonic_ns() - started
        return self.result

    # --- one task --------------------------------------------------------------------------

    def visit(self, task: Task, value: Any, value_type: str) -> tuple[Task | None, Any, str]:
        """Run `task` (with its retries) on `value`; the next task and its default input."""
        failure: TaskFailed | None = None
        unit: dict = {}
        tries = 0
        try:
            attempt = self.attempt_for(task, value, value_type)
        except TaskFailed as error:
            tries = 1
            self.count_step(task)
            failure, unit = error, self.record(task, value, value_type, error=error.message, duration_ns=0)
        else:
            for _ in range(task.retry_on_failure + 1):
                tries += 1
                self.count_step(task)
                started = time.monotonic_ns()
                try:
                    outcome = self.run_attempt(attempt)
                except TaskFailed as error:
                    failure = error
                    duration_ns = time.monotonic_ns() - started
                    unit = self.record(
                        task, attempt.input, attempt.input_type, error=error.message, duration_ns=duration_ns
                    )
                    if not error.retryable:
                        break
                    continue
                failure = None
                unit = self.record(
                    task, attempt.input, attempt.input_type, outcome=outcome, duration_ns=time.monotonic_ns() - started
                )
                break

        if failure is not None:
            return self.failed(task, failure, unit, value, value_type, tries=tries)
        return self.succeeded(task, outcome, unit)

    def attempt_for(self, task: Task, value: Any, value_type: str) -> Attempt:
        if task.input_var:
            if task.input_var not in self.variables:
                message = f"input_var {task.input_var!r} has no value yet (that task has not run)"
                raise TaskFailed(message, retryable=False)
            value, value_type = self.variables[task.input_var], self.types[task.input_var]
        try:
            if task.prompt_template:
                value, value_type = templates.render(task.prompt_template, self.variables), values.STRING
            system = templates.render(task.system_instruction, self.variables)
            hook_args = templates.render_args(task.hook.args, self.variables) if task.hook else {}
        except TemplateError as error:
            raise TaskFailed(str(error), retryable=False) from None
        models = task.execute_config.models
        if task.handler in MODEL_HANDLERS and not models:
            models = (self.default_model,)
        return Attempt(
            chain=self.chain,
            task=task,
            input=value,
            input_type=value_type,
            system=system,
            hook_args=hook_args,
            models=models,
            remote_hooks=self.remote_hooks,
            timeout_s=self.timeout_of(task),
            chain_started_at=self.started_at,
        )

    def timeout_of(self, task: Task) -> float | None:
        return task.timeout_s if task.timeout_s is not None else self.default_timeout_s

    def run_attempt(self, attempt: Attempt) -> Outcome:
        def run() -> Outcome:
            try:
                return handler_run(attempt)
            except TaskFailed:
                raise
            except Exception as error:  # a bug or an unforeseen reply: fail this task, not the request
                logger.exception("task %s of chain %s crashed", attempt.task.id, self.chain.id)
                raise TaskFailed(f"unexpected {type(error).__name__}: {error}") from error

        return run_bounded(run, attempt.timeout_s, name=f"chain-task-{attempt.task.id}")

    def count_step(self, task: Task) -> None:
        if self.result.steps >= self.max_steps:
            recent = " → ".join([*self.trail[-5:], task.id])
            raise ChainStopped(
                f"chain stopped after {self.max_steps} task runs (MODELYARD_CHAINS_MAX_STEPS), it seems to loop: "
                f"… {recent}"
            )
        self.result.steps += 1
        self.trail.append(task.id)
        if self.on_step is not None:
            self.on_step(self.result.steps, task.id)

    # --- after a task --------------------------------------------------------------------------

    def failed(self, task: Task, failure: TaskFailed, unit: dict, value: Any, value_type: str, *, tries: int) -> tuple:
        self.variables["error"] = failure.message
        if task.on_failure:
            if task.on_failure_alert:
                self.alert(task, task.on_failure_alert, output=None)
            unit["transition"] = task.on_failure
            # The fallback task gets what the failed task was given.
            return self.chain.task(task.on_failure), value, value_type
        attempts = f"{tries} attempts" if tries > 1 else "1 attempt"
        raise ChainStopped(f"task {task.id!r} failed after {attempts}: {failure.message}")

    def succeeded(self, task: Task, outcome: Outcome, unit: dict) -> tuple:
        if task.compose is not None:
            outcome = self.composed(task, outcome, unit)
        self.set_variable(task.id, outcome.output, outcome.output_type)
        self.set_variable("previous_output", outcome.output, outcome.output_type)
        if task.print:
            self.write_log("print", task, templates.render(task.print, self.variables, strict=False))

        if not task.branches:  # a task with no branches ends the chain
            goto = transitions.END
        else:
            branch = transitions.first_match(task.branches, outcome.decision)
            if branch is None:
                whens = ", ".join(f"{b.operator} {b.when!r}" for b in task.branches)
                raise ChainStopped(
                    f"task {task.id!r}: no branch matches its output {outcome.decision[:200]!r} (branches: {whens})"
                )
            if branch.alert_on_match:
                self.alert(task, branch.alert_on_match, output=outcome.output)
            goto = branch.goto or transitions.END
        unit["transition"] = goto
        if transitions.is_end(goto):
            self.result.output, self.result.output_type = outcome.output, outcome.output_type
            return None, outcome.output, outcome.output_type
        return self.chain.task(goto), outcome.output, outcome.output_type

    def composed(self, task: Task, outcome: Outcome, unit: dict) -> Outcome:
        """The task's outcome with `compose` applied to its output (contenox: after the task ran).

        A compose that cannot apply stops the chain, as in contenox: retrying cannot change it, and
        `on_failure` is for the task's own failures."""
        with_var = task.compose.with_var
        try:
            if with_var not in self.variables:
                raise compose.ComposeFailed(f"compose.with_var {with_var!r} has no value yet (that task has not run)")
            output, output_type = compose.compose_values(
                strategy=task.compose.strategy,
                output=outcome.output,
                output_type=outcome.output_type,
                other=self.variables[with_var],
                other_type=self.types[with_var],
            )
        except compose.ComposeFailed as error:
            unit["error"] = {"error": str(error)}
            raise ChainStopped(f"task {task.id!r}: {error}") from None
        self.set_variable(f"{task.id}_composed", output, output_type)
        return Outcome(output, output_type, outcome.decision)

    def set_variable(self, name: str, value: Any, value_type: str) -> None:
        self.variables[name] = value
        self.types[name] = value_type

    # --- what is kept ----------------------------------------------------------------------------

    def record(
        self,
        task: Task,
        input: Any,
        input_type: str,
        *,
        duration_ns: int,
        outcome: Outcome | None = None,
        error: str = "",
    ) -> dict:
        """One captured state unit (execapi's taskengine_CapturedStateUnit). Inputs and outputs may
        be private: they are kept only with `debug: true`, else left empty (the spec's shape stays)."""
        debug = self.chain.debug
        unit = {
            "taskID": task.id,
            "taskHandler": task.handler,
            "input": values.as_record(input) if debug else "",
            "output": values.as_record(outcome.output) if debug and outcome else "",
            "inputType": input_type,
            "outputType": outcome.output_type if outcome else values.ANY,
            "transition": "",
            "duration": duration_ns,
            "error": {"error": error} if error else {},
        }
        self.result.state.append(unit)
        return unit

    def alert(self, task: Task, template: str, *, output: Any) -> None:
        variables = {**self.variables, "task_id": task.id, "output": output}
        self.write_log("alert", task, templates.render(template, variables, strict=False))

    def write_log(self, kind: str, task: Task, text: str) -> None:
        self.result.log.append({"kind": kind, "taskID": task.id, "text": text})
        level = logging.WARNING if kind == "alert" else logging.INFO
        logger.log(level, "chain %s, task %s %s: %s", self.chain.id or "-", task.id, kind, text)
