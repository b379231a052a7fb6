"""`compose`: merge another variable (`with_var`) into a task's **output**, after the task ran.

As in contenox's task engine (the version the runtime spec describes): the task runs on its own
input, then its output is composed with `with_var`; the composed value is the task's output (its
variable, `previous_output`, the chain's output when it ends) and is also stored as
`<task_id>_composed`. The branches still compare what the handler produced.

- `override`: both sides must be objects; they are merged deeply, the task's output winning where
  both have a key (as contenox does today; its August 2025 engine let `with_var` win).
- `merge_chat_histories`: both sides must be chat histories; one history, `with_var`'s messages
  first (it is the earlier conversation), then the output's; token counts added up; the model
  kept only when both name the same one.
- `append_string_to_chat_history`: a string and a chat history (either side): the history with
  the string as a system message in front, token counts reset to 0 (the history changed).
- no strategy: `merge_chat_histories` when both sides are chat histories, else `override`.
"""

from typing import Any

from apps.chains import values

OVERRIDE = "override"
MERGE_CHAT_HISTORIES = "merge_chat_histories"
APPEND_STRING_TO_CHAT_HISTORY = "append_string_to_chat_history"
STRATEGIES = (OVERRIDE, MERGE_CHAT_HISTORIES, APPEND_STRING_TO_CHAT_HISTORY)


class ComposeFailed(Exception):
    """The two sides cannot be composed with the strategy (e.g. `override` of a string)."""


def deep_merge(base: dict, overrides: dict) -> dict:
    """`base` with `overrides` merged in: nested objects merge, any other value of `overrides` wins.

    Recursion is as deep as the objects given, which were parsed from requests or replies (depth-limited
    there) or merged by this function: a merge is never deeper than its deeper side."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def strategy_for(strategy: str, output: Any, other: Any) -> str:
    """The strategy to use: the one given, else chosen from the two sides' types."""
    if strategy:
        return strategy
    both_histories = values.is_chat_history(output) and values.is_chat_history(other)
    return MERGE_CHAT_HISTORIES if both_histories else OVERRIDE


def compose_values(*, strategy: str, output: Any, output_type: str, other: Any, other_type: str) -> tuple[Any, str]:
    """The task's `output` composed with `other` (the value of `with_var`), and its type.

    Raises ComposeFailed when the sides do not fit the strategy."""
    strategy = strategy_for(strategy, output, other)

    if strategy == OVERRIDE:
        if not (isinstance(output, dict) and isinstance(other, dict)) or values.is_chat_history(output):
            raise ComposeFailed(f"compose override needs two JSON objects, got {output_type} and {other_type}")
        merged = deep_merge(other, output)
        return merged, values.type_of(merged)

    if strategy == MERGE_CHAT_HISTORIES:
        if not (values.is_chat_history(output) and values.is_chat_history(other)):
            raise ComposeFailed(
                f"compose merge_chat_histories needs two chat histories, got {output_type} and {other_type}"
            )
        same_model = (output.get("model") or "") == (other.get("model") or "")
        merged = values.chat_history(
            [*other["messages"], *output["messages"]],
            model=(output.get("model") or "") if same_model else "",
            input_tokens=int(output.get("inputTokens") or 0) + int(other.get("inputTokens") or 0),
            output_tokens=int(output.get("outputTokens") or 0) + int(other.get("outputTokens") or 0),
        )
        return merged, values.CHAT_HISTORY

    # append_string_to_chat_history (the only other strategy validation lets through)
    if isinstance(output, str) and values.is_chat_history(other):
        text, history = output, other
    elif isinstance(other, str) and values.is_chat_history(output):
        text, history = other, output
    else:
        raise ComposeFailed(
            f"compose append_string_to_chat_history needs a string and a chat history, got {output_type} and "
            f"{other_type}"
        )
    merged = values.chat_history(
        [{"role": "system", "content": text}, *history["messages"]], model=history.get("model") or ""
    )
    return merged, values.CHAT_HISTORY
