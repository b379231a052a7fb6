"""The values that flow between tasks, and their type names (the spec's `inputType`/`outputType`).

A chat history is kept as the JSON the runtime spec's clients send and receive:
`{"messages": [{"role", "content"}...], "model", "inputTokens", "outputTokens"}`.
"""

import json
import math
from typing import Any

from django.conf import settings

from apps.core.errors import Invalid
from apps.core.parsers import json_depth

STRING = "string"
INT = "int"
FLOAT = "float"
BOOL = "bool"
JSON = "json"
CHAT_HISTORY = "chat_history"
ANY = "any"

TYPES = (STRING, INT, FLOAT, BOOL, JSON, CHAT_HISTORY, ANY)
ROLES = ("system", "user", "assistant", "tool")

# Token estimate for limits, without a tokenizer for remote models: the common rule of thumb for
# BPE tokenizers on English text (about 4 characters a token), plus a few tokens of framing per message.
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4


def type_of(value: Any) -> str:
    """The type name of a value a hook or a handler produced."""
    if isinstance(value, str):
        return STRING
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    if is_chat_history(value):
        return CHAT_HISTORY
    if value is None:
        return ANY
    return JSON


def is_chat_history(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("messages"), list)


def chat_history(messages: list[dict], *, model: str = "", input_tokens: int = 0, output_tokens: int = 0) -> dict:
    return {"messages": messages, "model": model, "inputTokens": input_tokens, "outputTokens": output_tokens}


def coerce_input(value: Any, input_type: str) -> Any:
    """The request's `input` checked against its `inputType` (a list of messages is a chat history)."""
    if input_type not in TYPES:
        raise Invalid(f"inputType {input_type!r} is not supported; use one of {', '.join(TYPES)}", field="inputType")
    if input_type == STRING and not isinstance(value, str):
        raise Invalid("input must be a string when inputType is 'string'", field="input")
    if input_type == INT and (isinstance(value, bool) or not isinstance(value, int)):
        raise Invalid("input must be an integer when inputType is 'int'", field="input")
    if input_type == FLOAT and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise Invalid("input must be a number when inputType is 'float'", field="input")
    if input_type == BOOL and not isinstance(value, bool):
        raise Invalid("input must be true or false when inputType is 'bool'", field="input")
    if input_type == CHAT_HISTORY:
        return checked_chat_history(value)
    if input_type == FLOAT:
        return float(value)
    return value


def checked_chat_history(value: Any) -> dict:
    if isinstance(value, list):
        value = chat_history(value)
    if not is_chat_history(value):
        raise Invalid('a chat history is {"messages": [{"role": ..., "content": ...}, ...]}', field="input")
    messages = []
    for index, message in enumerate(value["messages"]):
        if (
            not isinstance(message, dict)
            or message.get("role") not in ROLES
            or not isinstance(message.get("content"), str)
        ):
            raise Invalid(
                f"input.messages[{index}] must have a role ({', '.join(ROLES)}) and a string content", field="input"
            )
        messages.append({"role": message["role"], "content": message["content"]})
    return chat_history(
        messages,
        model=str(value.get("model") or ""),
        input_tokens=_token_count(value, "inputTokens"),
        output_tokens=_token_count(value, "outputTokens"),
    )


def _token_count(history: dict, key: str) -> int:
    count = history.get(key) or 0
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise Invalid(f"input.{key} must be a whole number of tokens", field="input")
    return count


def as_text(value: Any) -> str:
    """A value as text, for prompts, templates and comparisons: a chat history is its last message."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))  # as Go prints a float64: a score of 8 reads "8", so `equals "8"` matches
    if isinstance(value, int | float):
        return str(value)
    if is_chat_history(value):
        messages = value["messages"]
        return str(messages[-1].get("content", "")) if messages else ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def as_record(value: Any) -> str:
    """A value as the `input`/`output` strings of a captured state unit (a chat history whole, as JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return as_text(value)


def estimate_tokens(messages: list[dict]) -> int:
    return sum(TOKENS_PER_MESSAGE + math.ceil(len(str(m.get("content", ""))) / CHARS_PER_TOKEN) for m in messages)


def loose_json(value: Any) -> Any:
    """A field the spec's examples show as a JSON-encoded string (`"{\\"yes\\": true}"`): decoded.

    Anything else is returned unchanged; a string that is not JSON stays a string. JSON text nested
    deeper than a request may be (MODELYARD_MAX_JSON_DEPTH) is refused, as the body would be.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text or text[0] not in "[{":
        return value
    too_deep = Invalid(f"JSON text nested deeper than {settings.MODELYARD_MAX_JSON_DEPTH} levels")
    for candidate in (text, text.replace('\\"', '"')):
        try:
            decoded = json.loads(candidate)
        except RecursionError:  # Python's parser gives up at a few hundred levels
            raise too_deep from None
        except ValueError:
            continue
        if json_depth(decoded) > settings.MODELYARD_MAX_JSON_DEPTH:
            raise too_deep
        return decoded
    return value


def storable(value: Any) -> Any:
    """`value` with NUL characters replaced (U+FFFD): PostgreSQL text and jsonb cannot hold U+0000,
    and a model or hook may answer one."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value
