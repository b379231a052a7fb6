"""`compose`: merge another variable (`with_var`) into a task's input before the task runs.

- `override`: two objects are merged deeply, `with_var`'s keys winning; otherwise `with_var`'s
  value replaces the input.
- `merge_chat_histories`: two chat histories become one, `with_var`'s messages first (it is the
  earlier conversation), token counts added up.
- `append_string_to_chat_history`: a string and a chat history (either side) become the history
  with the string as a system message in front (how a chain hands retrieved context to a chat).
- no strategy: `merge_chat_histories` when both sides are chat histories, else `override`.
"""

from typing import Any

from apps.chains import values
from apps.chains.errors import TaskFailed


def deep_merge(base: dict, overrides: dict) -> dict:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def compose_values(*, strategy: str, value: Any, value_type: str, other: Any, other_type: str) -> tuple[Any, str]:
    """The composed input and its type."""
    if not strategy:
        both_histories = values.is_chat_history(value) and values.is_chat_history(other)
        strategy = "merge_chat_histories" if both_histories else "override"

    if strategy == "override":
        if isinstance(value, dict) and isinstance(other, dict):
            merged = deep_merge(value, other)
            return merged, values.type_of(merged)
        return other, other_type

    if strategy == "merge_chat_histories":
        if not (values.is_chat_history(value) and values.is_chat_history(other)):
            raise TaskFailed(
                f"compose merge_chat_histories needs two chat histories, got {value_type} and {other_type}",
                retryable=False,
            )
        model = value.get("model") if value.get("model") == other.get("model") else ""
        merged = values.chat_history(
            [*other["messages"], *value["messages"]],
            model=model or "",
            input_tokens=int(value.get("inputTokens") or 0) + int(other.get("inputTokens") or 0),
            output_tokens=int(value.get("outputTokens") or 0) + int(other.get("outputTokens") or 0),
        )
        return merged, values.CHAT_HISTORY

    # append_string_to_chat_history (the only other strategy validation lets through)
    if isinstance(value, str) and values.is_chat_history(other):
        text, history = value, other
    elif isinstance(other, str) and values.is_chat_history(value):
        text, history = other, value
    else:
        raise TaskFailed(
            f"compose append_string_to_chat_history needs a string and a chat history, got {value_type} and "
            f"{other_type}",
            retryable=False,
        )
    merged = values.chat_history(
        [{"role": "system", "content": text}, *history["messages"]], model=history.get("model") or ""
    )
    return merged, values.CHAT_HISTORY
