"""Task handlers: what one run of a task does with its input, and what its branches compare against.

Model answers are read leniently, as models write them: surrounding spaces, quotes and a final
period are ignored; a number is found inside a sentence when the sentence holds exactly one.
An answer that still does not parse fails the task, so `retry_on_failure` asks the model again.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from apps.chains import model_calls, values
from apps.chains.definitions import Chain, Task
from apps.chains.errors import TaskFailed
from apps.chains.hooks import LOCAL_HOOKS, HookCall, HookFailed, local_hook
from apps.chains.hooks.remote import RemoteTarget, remote_hook_call
from apps.chains.transitions import NUMBER, RANGE, parse_number

NUMBER_IN_TEXT = re.compile(rf"(?<![\w.]){NUMBER}(?!\w)")
RANGE_IN_TEXT = re.compile(rf"{NUMBER}\s*-\s*{NUMBER}")
WORD = re.compile(r"[\w\-]+")


@dataclass(frozen=True)
class Attempt:
    """Everything one run of a task needs, already rendered: no database, no templates left."""

    chain: Chain
    task: Task
    input: Any
    input_type: str
    system: str = ""
    hook_args: dict = field(default_factory=dict)
    models: tuple[str, ...] = ()
    remote_hooks: Mapping[str, RemoteTarget] = field(default_factory=dict)
    timeout_s: float | None = None
    chain_started_at: str = ""


@dataclass(frozen=True)
class Outcome:
    output: Any
    output_type: str
    decision: str  # what the branches compare against


# --- reading model answers ---------------------------------------------------------------------


def clean_answer(text: str) -> str:
    cleaned = text.strip()
    while len(cleaned) >= 2 and cleaned[0] == cleaned[-1] and cleaned[0] in "\"'`":
        cleaned = cleaned[1:-1].strip()
    return cleaned.rstrip(".!").strip()


def read_number(text: str) -> float:
    cleaned = clean_answer(text)
    number = parse_number(cleaned)
    if number is not None:
        return number
    found = NUMBER_IN_TEXT.findall(cleaned)
    if len(found) == 1:
        return float(found[0])
    raise TaskFailed(f"expected a number, the model answered {text.strip()[:200]!r}")


def read_integer(text: str) -> int:
    number = read_number(text)
    if number != int(number):
        raise TaskFailed(f"expected a whole number, the model answered {text.strip()[:200]!r}")
    return int(number)


def read_range(text: str) -> str:
    """ "5-7" as "5-7", a single number N as "N-N"."""
    cleaned = clean_answer(text)
    match = RANGE.match(cleaned)
    if match is None:
        inside = RANGE_IN_TEXT.findall(cleaned)
        match = RANGE.match(inside[0]) if len(inside) == 1 else None
    if match is not None:
        low, high = float(match.group(1)), float(match.group(2))
        if low > high:
            raise TaskFailed(f"the range {cleaned!r} has its low bound above its high one")
        return f"{values.as_text(low)}-{values.as_text(high)}"
    try:
        number = read_number(text)
    except TaskFailed:
        raise TaskFailed(
            f'expected a range such as "5-7" or a number, the model answered {text.strip()[:200]!r}'
        ) from None
    return f"{values.as_text(number)}-{values.as_text(number)}"


def read_condition(text: str, conditions: tuple[str, ...]) -> str:
    """The valid condition the answer gives: the whole answer as written (as contenox matches it),
    else case-insensitively the whole answer or its first word."""
    if text.strip() in conditions:
        return text.strip()
    cleaned = clean_answer(text).lower()
    by_lower = {}
    for condition in conditions:
        by_lower.setdefault(condition.lower(), condition)  # the first one written wins
    if cleaned in by_lower:
        return by_lower[cleaned]
    words = WORD.findall(cleaned)
    if words and words[0] in by_lower:
        return by_lower[words[0]]
    raise TaskFailed(f"the model answered {text.strip()[:200]!r}, which is none of {', '.join(conditions)}")


def split_command(text: str) -> tuple[str, str]:
    """("command", rest) for "/command rest"; ("pass", text) when the text starts with no command."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return "pass", text
    command, _, rest = stripped[1:].partition(" ")
    if not command:
        raise TaskFailed("the input starts with '/' but names no command", retryable=False)
    return command, rest.strip()


# --- the handlers --------------------------------------------------------------------------------


def _prompt_messages(attempt: Attempt) -> list[dict]:
    prompt = values.as_text(attempt.input)
    if not prompt.strip():
        raise TaskFailed("the prompt is empty", retryable=False)
    messages = [{"role": "system", "content": attempt.system}] if attempt.system else []
    messages.append({"role": "user", "content": prompt})
    limit = attempt.chain.token_limit
    if limit and values.estimate_tokens(messages) > limit:
        raise TaskFailed(
            f"the prompt is about {values.estimate_tokens(messages)} tokens, over the chain's token_limit of {limit}",
            retryable=False,
        )
    return messages


def _ask(attempt: Attempt) -> str:
    result = model_calls.model_chat(
        config=attempt.task.execute_config, models=attempt.models, messages=_prompt_messages(attempt)
    )
    return result.text.strip()


def raw_string(attempt: Attempt) -> Outcome:
    answer = _ask(attempt)
    return Outcome(answer, values.STRING, answer)


def condition_key(attempt: Attempt) -> Outcome:
    condition = read_condition(_ask(attempt), attempt.task.valid_conditions)
    return Outcome(condition, values.STRING, condition)


def parse_number_handler(attempt: Attempt) -> Outcome:
    number = read_integer(_ask(attempt))
    return Outcome(number, values.INT, str(number))


def parse_score(attempt: Attempt) -> Outcome:
    score = read_number(_ask(attempt))
    return Outcome(score, values.FLOAT, values.as_text(score))


def parse_range_handler(attempt: Attempt) -> Outcome:
    answer = read_range(_ask(attempt))
    return Outcome(answer, values.STRING, answer)


def parse_transition(attempt: Attempt) -> Outcome:
    """Reads a leading "/command" from the input (a chat's last message) without a model: branches
    compare the command, "pass" when there is none ("" for an empty input). As in contenox, the
    input passes on unchanged."""
    if values.is_chat_history(attempt.input):
        messages = attempt.input["messages"]
        text = str(messages[-1]["content"]) if messages else ""
    else:
        text = values.as_text(attempt.input)
    command = split_command(text)[0] if text else ""
    return Outcome(attempt.input, attempt.input_type, command)


def trim_history(messages: list[dict], limit: int) -> list[dict]:
    """The messages within `limit` tokens: the oldest turns go first; system messages and the
    latest message stay. Fails when even those do not fit."""
    kept = list(messages)
    while values.estimate_tokens(kept) > limit:
        droppable = [index for index, message in enumerate(kept[:-1]) if message["role"] != "system"]
        if not droppable:
            raise TaskFailed(
                f"the chat is about {values.estimate_tokens(kept)} tokens without its older turns, over the "
                f"chain's token_limit of {limit}",
                retryable=False,
            )
        del kept[droppable[0]]
    return kept


def model_execution(attempt: Attempt) -> Outcome:
    """Runs a chat history on the model and returns it with the model's answer appended."""
    if values.is_chat_history(attempt.input):
        history = attempt.input
    else:
        history = values.chat_history([{"role": "user", "content": values.as_text(attempt.input)}])
    messages = [{"role": m["role"], "content": m["content"]} for m in history["messages"]]
    if not messages:
        raise TaskFailed("the chat history has no messages", retryable=False)
    system = attempt.system
    if system and not any(m["role"] == "system" and m["content"] == system for m in messages):
        messages.insert(0, {"role": "system", "content": system})
    if attempt.chain.token_limit:
        messages = trim_history(messages, attempt.chain.token_limit)
    result = model_calls.model_chat(config=attempt.task.execute_config, models=attempt.models, messages=messages)
    answer = {"role": "assistant", "content": result.text}
    output = values.chat_history(
        [*messages, answer],
        model=result.model,
        input_tokens=result.prompt_tokens or values.estimate_tokens(messages),
        output_tokens=result.completion_tokens or values.estimate_tokens([answer]),
    )
    return Outcome(output, values.CHAT_HISTORY, result.text)


def raise_error(attempt: Attempt) -> Outcome:
    raise TaskFailed(values.as_text(attempt.input) or f"task {attempt.task.id} raised an error", retryable=False)


def noop(attempt: Attempt) -> Outcome:
    return Outcome(attempt.input, attempt.input_type, values.as_text(attempt.input))


def hook(attempt: Attempt) -> Outcome:
    name = attempt.task.hook.name
    call = HookCall(
        hook=name,
        chain_id=attempt.chain.id,
        task_id=attempt.task.id,
        input=attempt.input,
        input_type=attempt.input_type,
        args=attempt.hook_args,
        timeout_s=attempt.timeout_s,
        chain_started_at=attempt.chain_started_at,
    )
    try:
        if name not in LOCAL_HOOKS and name in attempt.remote_hooks:
            result = remote_hook_call(attempt.remote_hooks[name], call)
        else:
            result = local_hook(name).run(call)
    except HookFailed as error:
        raise TaskFailed(str(error)) from None
    return Outcome(result.output, result.output_type, result.transition or values.as_text(result.output))


HANDLERS: dict[str, Callable[[Attempt], Outcome]] = {
    "raw_string": raw_string,
    "condition_key": condition_key,
    "parse_number": parse_number_handler,
    "parse_score": parse_score,
    "parse_range": parse_range_handler,
    "parse_transition": parse_transition,
    "model_execution": model_execution,
    "raise_error": raise_error,
    "noop": noop,
    "hook": hook,
}


def handler_run(attempt: Attempt) -> Outcome:
    return HANDLERS[attempt.task.handler](attempt)
