"""The runtime spec's ChainDefinition, read and checked before anything runs.

Every problem is an `Invalid` (400 `{"error": ...}`) that names the task and the field. The spec's
own examples send empty objects for unused parts (`"hook": {}`, `"transition": {}`) and JSON-encoded
strings for maps and lists (`"valid_conditions": "{\\"yes\\": true}"`): both are accepted.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from apps.backends.providers import PROVIDER_TYPES
from apps.chains import compose as composing
from apps.chains import templates, transitions
from apps.chains.transitions import Branch
from apps.chains.values import loose_json
from apps.core.errors import Invalid

HANDLERS = (
    "raw_string",
    "condition_key",
    "parse_number",
    "parse_score",
    "parse_range",
    "parse_transition",
    "model_execution",
    "raise_error",
    "noop",
    "hook",
)
# Handlers that send a prompt or a chat to a model.
MODEL_HANDLERS = frozenset(
    {"raw_string", "condition_key", "parse_number", "parse_score", "parse_range", "model_execution"}
)
COMPOSE_STRATEGIES = composing.STRATEGIES
# Variables every template may use besides the task ids; alerts also know the task's output.
BASE_VARIABLES = ("input", "previous_output", "error")
ALERT_VARIABLES = ("output", "task_id")

DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
# Longest task timeout: a longer one would overflow the thread wait it becomes (issue 10, A1).
MAX_TIMEOUT_S = 7 * 24 * 3600.0


@dataclass(frozen=True)
class ExecuteConfig:
    """Which model a task runs on: `models` tried in order (empty: the default model), each on the
    backend types of `providers` in order (empty: any backend)."""

    models: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    temperature: float | None = None


@dataclass(frozen=True)
class TaskHook:
    name: str
    args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Compose:
    with_var: str
    strategy: str = ""  # empty: merge_chat_histories when both sides are chat histories, else override


@dataclass(frozen=True)
class Task:
    id: str
    handler: str
    description: str = ""
    prompt_template: str = ""
    system_instruction: str = ""
    print: str = ""
    input_var: str = ""
    compose: Compose | None = None
    execute_config: ExecuteConfig = field(default_factory=ExecuteConfig)
    hook: TaskHook | None = None
    valid_conditions: tuple[str, ...] = ()
    branches: tuple[Branch, ...] = ()
    on_failure: str = ""
    on_failure_alert: str = ""
    retry_on_failure: int = 0
    timeout_s: float | None = None


@dataclass(frozen=True)
class Chain:
    id: str
    tasks: tuple[Task, ...]
    description: str = ""
    debug: bool = False
    token_limit: int = 0

    def task(self, task_id: str) -> Task:
        return next(task for task in self.tasks if task.id == task_id)


def parse_duration(text: str) -> float:
    """Seconds of a Go-style duration: "10s", "2m", "1h", "1m30s", "500ms", "1.5s"."""
    compact = text.strip()
    parts = DURATION_PART.findall(compact)
    if not compact or "".join(number + unit for number, unit in parts) != compact:
        raise ValueError(f'{text!r} is not a duration such as "10s", "2m", "1h" or "500ms"')
    return sum(float(number) * DURATION_UNITS[unit] for number, unit in parts)


# --- reading the request -----------------------------------------------------------------------


def chain_from_request(raw: Any, *, hook_names: Iterable[str], max_retries: int) -> Chain:
    """The chain of a request's `chain`: one definition, or a list holding one (the spec's example)."""
    if isinstance(raw, list):
        if len(raw) != 1:
            raise Invalid(f"chain: give one chain definition, got a list of {len(raw)}", field="chain")
        raw = raw[0]
    if not isinstance(raw, dict):
        raise Invalid("chain: must be a chain definition object (or a list with one)", field="chain")
    return _ChainReader(raw, set(hook_names), max_retries).read()


def _present(value: Any) -> bool:
    """False for the spec examples' placeholders of unused parts: null, {} and ""."""
    return value not in (None, {}, "", [])


class _ChainReader:
    def __init__(self, raw: dict, hook_names: set[str], max_retries: int) -> None:
        self.raw = raw
        self.hook_names = hook_names
        self.max_retries = max_retries

    # --- errors ------------------------------------------------------------------------------

    @staticmethod
    def problem(task_id: str, field_name: str, message: str) -> Invalid:
        return Invalid(f'task "{task_id}": {field_name}: {message}', task=task_id, field=field_name)

    def decoded(self, value: Any, task_id: str, field_name: str) -> Any:
        """`value`, or the value of its JSON text (the spec's examples send maps and lists so)."""
        try:
            return loose_json(value)
        except Invalid as error:
            raise self.problem(task_id, field_name, error.message) from None

    def text(self, raw: dict, key: str, task_id: str = "", *, where: str = "") -> str:
        """The string at `key` ("" when absent); `where` is the path of `raw` inside the task."""
        value = raw.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            if task_id:
                raise self.problem(task_id, f"{where}.{key}" if where else key, "must be a string")
            raise Invalid(f"chain.{key}: must be a string", field=key)
        return value

    # --- the chain ---------------------------------------------------------------------------

    def read(self) -> Chain:
        raw = self.raw
        token_limit = raw.get("token_limit") or 0
        if isinstance(token_limit, bool) or not isinstance(token_limit, int) or token_limit < 0:
            raise Invalid("chain.token_limit: must be a whole number, 0 for no limit", field="token_limit")
        debug = raw.get("debug", False)
        if not isinstance(debug, bool):
            raise Invalid("chain.debug: must be true or false", field="debug")
        raw_tasks = raw.get("tasks")
        if not isinstance(raw_tasks, list) or not raw_tasks:
            raise Invalid("chain.tasks: a chain needs at least one task", field="tasks")

        ids: list[str] = []
        for index, raw_task in enumerate(raw_tasks):
            if not isinstance(raw_task, dict):
                raise Invalid(f"chain.tasks[{index}]: must be an object", field="tasks")
            task_id = raw_task.get("id")
            if not isinstance(task_id, str) or not task_id.strip():
                raise Invalid(f"chain.tasks[{index}].id: every task needs an id", field="id")
            if task_id == transitions.END:
                raise self.problem(task_id, "id", f"{transitions.END!r} is reserved for ending the chain")
            if task_id in ids:
                raise self.problem(task_id, "id", "two tasks have this id")
            ids.append(task_id)

        composed = [f"{raw_task['id']}_composed" for raw_task in raw_tasks if _present(raw_task.get("compose"))]
        self.task_ids = set(ids)
        self.variables = set(BASE_VARIABLES) | self.task_ids | set(composed)
        tasks = tuple(self.task(raw_task) for raw_task in raw_tasks)
        chain_id = self.text(raw, "id")
        if len(chain_id) > 200:
            raise Invalid("chain.id: at most 200 characters", field="id")
        return Chain(
            id=chain_id,
            description=self.text(raw, "description"),
            debug=debug,
            token_limit=token_limit,
            tasks=tasks,
        )

    # --- one task ----------------------------------------------------------------------------

    def task(self, raw: dict) -> Task:
        task_id = raw["id"]
        handler = self.handler(raw, task_id)
        for key in ("prompt_template", "system_instruction", "print"):
            self.check_template(task_id, key, self.text(raw, key, task_id), self.variables)
        input_var = self.text(raw, "input_var", task_id)
        if input_var and input_var not in self.variables:
            raise self.problem(
                task_id, "input_var", f"{input_var!r} is neither 'input', 'previous_output' nor a task id"
            )
        on_failure, on_failure_alert, branches = self.transition(raw, task_id)
        valid_conditions = self.valid_conditions(raw, task_id, handler)
        return Task(
            id=task_id,
            handler=handler,
            description=self.text(raw, "description", task_id),
            prompt_template=self.text(raw, "prompt_template", task_id),
            system_instruction=self.text(raw, "system_instruction", task_id),
            print=self.text(raw, "print", task_id),
            input_var=input_var,
            compose=self.compose(raw, task_id),
            execute_config=self.execute_config(raw, task_id),
            hook=self.hook(raw, task_id, handler),
            valid_conditions=valid_conditions,
            branches=branches,
            on_failure=on_failure,
            on_failure_alert=on_failure_alert,
            retry_on_failure=self.retries(raw, task_id),
            timeout_s=self.timeout(raw, task_id),
        )

    def handler(self, raw: dict, task_id: str) -> str:
        by_handler, by_type = raw.get("handler"), raw.get("type")
        if _present(by_handler) and _present(by_type) and by_handler != by_type:
            raise self.problem(task_id, "handler", f"'handler' ({by_handler!r}) and 'type' ({by_type!r}) disagree")
        handler = by_handler if _present(by_handler) else by_type
        if not _present(handler):
            raise self.problem(task_id, "handler", f"missing; use one of {', '.join(HANDLERS)}")
        if not isinstance(handler, str) or handler not in HANDLERS:
            raise self.problem(task_id, "handler", f"{handler!r} is not a handler; use one of {', '.join(HANDLERS)}")
        return handler

    def check_template(self, task_id: str, key: str, template: str, known: Iterable[str]) -> None:
        unsupported = templates.unsupported_tags(template)
        if unsupported:
            raise self.problem(
                task_id,
                key,
                f"{unsupported[0]!r} is not supported: a template only names variables, as {{{{ .input }}}}",
            )
        unknown = templates.unknown_references(template, known)
        if unknown:
            raise self.problem(
                task_id, key, f"{{{{ .{unknown[0]} }}}} names no variable (use input, previous_output or a task id)"
            )

    def transition(self, raw: dict, task_id: str) -> tuple[str, str, tuple[Branch, ...]]:
        transition = raw.get("transition")
        if not _present(transition):
            return "", "", ()
        if not isinstance(transition, dict):
            raise self.problem(task_id, "transition", "must be an object with 'branches'")
        alert_variables = self.variables | set(ALERT_VARIABLES)

        on_failure = self.text(transition, "on_failure", task_id, where="transition")
        if on_failure and on_failure not in self.task_ids:
            raise self.problem(task_id, "transition.on_failure", f"no task has the id {on_failure!r}")
        on_failure_alert = self.text(transition, "on_failure_alert", task_id, where="transition")
        self.check_template(task_id, "transition.on_failure_alert", on_failure_alert, alert_variables)

        raw_branches = transition.get("branches") or []
        if not isinstance(raw_branches, list):
            raise self.problem(task_id, "transition.branches", "must be a list")
        branches = []
        for index, raw_branch in enumerate(raw_branches):
            where = f"transition.branches[{index}]"
            if not isinstance(raw_branch, dict):
                raise self.problem(task_id, where, "must be an object")
            when = raw_branch.get("when", "")
            if isinstance(when, bool):
                when = "true" if when else "false"
            elif isinstance(when, int | float):
                when = str(when)
            elif not isinstance(when, str):
                raise self.problem(task_id, f"{where}.when", "must be a string")
            operator = raw_branch.get("operator") or ""
            if operator and (not isinstance(operator, str) or operator not in transitions.OPERATORS):
                raise self.problem(
                    task_id,
                    f"{where}.operator",
                    f"{operator!r} is not an operator; use one of {', '.join(transitions.OPERATORS)}",
                )
            operator = transitions.effective_operator(operator, when)
            trouble = transitions.when_problem(operator, when)
            if trouble:
                raise self.problem(task_id, f"{where}.when", trouble)
            goto = self.text(raw_branch, "goto", task_id, where=where)
            if not transitions.is_end(goto) and goto not in self.task_ids:
                raise self.problem(task_id, f"{where}.goto", f"no task has the id {goto!r} (use 'end' to finish)")
            alert = self.text(raw_branch, "alert_on_match", task_id, where=where)
            self.check_template(task_id, f"{where}.alert_on_match", alert, alert_variables)
            branches.append(Branch(operator=operator, when=when, goto=goto, alert_on_match=alert))
        return on_failure, on_failure_alert, tuple(branches)

    def valid_conditions(self, raw: dict, task_id: str, handler: str) -> tuple[str, ...]:
        conditions = self.decoded(raw.get("valid_conditions"), task_id, "valid_conditions")
        if not _present(conditions):
            if handler == "condition_key":
                raise self.problem(task_id, "valid_conditions", 'a condition_key task needs them, e.g. {"yes": true}')
            return ()
        if isinstance(conditions, dict):
            keys = list(conditions)
        elif isinstance(conditions, list) and all(isinstance(item, str) for item in conditions):
            keys = conditions
        else:
            raise self.problem(task_id, "valid_conditions", 'must be an object such as {"yes": true, "no": true}')
        if not all(key.strip() for key in keys):
            raise self.problem(task_id, "valid_conditions", "a condition cannot be empty")
        return tuple(keys)

    def compose(self, raw: dict, task_id: str) -> Compose | None:
        compose = raw.get("compose")
        if not _present(compose):
            return None
        if not isinstance(compose, dict):
            raise self.problem(task_id, "compose", "must be an object with 'with_var' and 'strategy'")
        with_var = self.text(compose, "with_var", task_id, where="compose")
        if not with_var:
            raise self.problem(task_id, "compose.with_var", "names the variable to merge in; it is missing")
        if with_var not in self.variables:
            raise self.problem(task_id, "compose.with_var", f"{with_var!r} is neither 'input' nor a task id")
        strategy = self.text(compose, "strategy", task_id, where="compose")
        if strategy and strategy not in COMPOSE_STRATEGIES:
            raise self.problem(
                task_id, "compose.strategy", f"{strategy!r} is unknown; use one of {', '.join(COMPOSE_STRATEGIES)}"
            )
        return Compose(with_var=with_var, strategy=strategy)

    def execute_config(self, raw: dict, task_id: str) -> ExecuteConfig:
        config = raw.get("execute_config")
        if not _present(config):
            return ExecuteConfig()
        if not isinstance(config, dict):
            raise self.problem(task_id, "execute_config", "must be an object")
        models = self.names(config, "model", "models", task_id)
        providers = self.names(config, "provider", "providers", task_id)
        unknown = [provider for provider in providers if provider not in PROVIDER_TYPES]
        if unknown:
            raise self.problem(
                task_id,
                "execute_config.provider",
                f"{unknown[0]!r} is not a provider type; use one of {', '.join(PROVIDER_TYPES)}",
            )
        temperature = config.get("temperature")
        if temperature is not None and (
            isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 2
        ):
            raise self.problem(task_id, "execute_config.temperature", "must be a number from 0 to 2")
        return ExecuteConfig(
            models=models, providers=providers, temperature=None if temperature is None else float(temperature)
        )

    def names(self, config: dict, one: str, many: str, task_id: str) -> tuple[str, ...]:
        names = []
        single = config.get(one)
        if _present(single):
            if not isinstance(single, str):
                raise self.problem(task_id, f"execute_config.{one}", "must be a string")
            names.append(single)
        listed = self.decoded(config.get(many), task_id, f"execute_config.{many}")
        if _present(listed):
            if not isinstance(listed, list) or not all(isinstance(name, str) and name for name in listed):
                raise self.problem(task_id, f"execute_config.{many}", "must be a list of names")
            names.extend(listed)
        return tuple(dict.fromkeys(names))  # in order, once each

    def hook(self, raw: dict, task_id: str, handler: str) -> TaskHook | None:
        hook = raw.get("hook")
        if not _present(hook):
            if handler == "hook":
                raise self.problem(task_id, "hook", 'a hook task needs one, e.g. {"type": "echo", "args": {}}')
            return None
        if handler != "hook":
            raise self.problem(task_id, "hook", f"only hook tasks run hooks; this task's handler is {handler!r}")
        if not isinstance(hook, dict):
            raise self.problem(task_id, "hook", 'must be an object such as {"type": "echo", "args": {}}')
        by_type, by_name = hook.get("type"), hook.get("name")
        if _present(by_type) and _present(by_name) and by_type != by_name:
            raise self.problem(task_id, "hook", f"'type' ({by_type!r}) and 'name' ({by_name!r}) disagree")
        name = by_type if _present(by_type) else by_name
        if not _present(name):
            raise self.problem(task_id, "hook.type", "names the hook to run; it is missing")
        if not isinstance(name, str):
            raise self.problem(task_id, "hook.type", "must be the name of a hook (see GET /supported)")
        if name not in self.hook_names:
            supported = ", ".join(sorted(self.hook_names))
            raise self.problem(task_id, "hook.type", f"{name!r} is not a known hook (supported: {supported})")
        args = self.decoded(hook.get("args"), task_id, "hook.args")
        if not _present(args):
            args = {}
        if not isinstance(args, dict):
            raise self.problem(task_id, "hook.args", "must be an object")
        for template in templates.args_templates(args):
            self.check_template(task_id, "hook.args", template, self.variables)
        return TaskHook(name=name, args=args)

    def retries(self, raw: dict, task_id: str) -> int:
        retries = raw.get("retry_on_failure") or 0
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= self.max_retries:
            raise self.problem(task_id, "retry_on_failure", f"must be a whole number from 0 to {self.max_retries}")
        return retries

    def timeout(self, raw: dict, task_id: str) -> float | None:
        timeout = raw.get("timeout")
        if not _present(timeout):
            return None
        if not isinstance(timeout, str):
            raise self.problem(task_id, "timeout", 'must be a duration string such as "10s", "2m" or "1h"')
        try:
            seconds = parse_duration(timeout)
        except ValueError as error:
            raise self.problem(task_id, "timeout", str(error)) from None
        if seconds <= 0:
            raise self.problem(task_id, "timeout", "must be longer than zero")
        if seconds > MAX_TIMEOUT_S:
            raise self.problem(task_id, "timeout", f"must be at most {MAX_TIMEOUT_S / 3600:g}h")
        return seconds
