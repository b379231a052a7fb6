"""The OpenAI gateway's HTTP layer: requests checked as OpenAI checks them, and OpenAI's error body.

A request OpenAI would refuse is refused here, before routing, with OpenAI's status (400) and
error object, so a client's mistake never reaches a backend or counts against one. JSON types are
strict, as OpenAI's are: `"content": 5` or `"temperature": "0.5"` is an error, not a conversion.
Fields OpenAI has and the gateway does not use are accepted and left out.
"""

from typing import Any

from django.core.validators import RegexValidator
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from apps.backends.routing import ModelNotFound
from apps.core.error_handlers import api_exception_handler, field_errors
from apps.core.errors import DomainError
from apps.core.openai_errors import ERROR_TYPES, STATUS_CODES, OpenAIErrorSerializer, error_body  # noqa: F401  (re-exported)
from apps.core.validation import (  # noqa: F401  (the strict fields re-exported: this module's vocabulary)
    INT32_MAX,
    INT64_MAX,
    INT64_MIN,
    BooleanField,
    BoundedIntegerField,
    IntegerField,
    NumberField,
    ObjectField,
    StringField,
    json_type,
    type_error,
)

# OpenAI's names for functions and json_schema formats.
NAME = RegexValidator(r"^[a-zA-Z0-9_-]{1,64}$", "must be 1-64 of a-z, A-Z, 0-9, _ and -")
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
# Which content parts each role may send (openai/types/chat/chat_completion_*_message_param.py).
PART_TYPES = {
    "system": ("text",),
    "developer": ("text",),
    "user": ("text", "image_url", "input_audio", "file"),
    "assistant": ("text", "refusal"),
    "tool": ("text",),
    "function": ("text",),
}
TOOL_CHOICE_MODES = ("none", "auto", "required")
# Named in SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]: other specs have fields named "type" too.
TOOL_TYPES = ("function",)
RESPONSE_FORMAT_TYPES = ("text", "json_object", "json_schema")
# Past any embedding model's width (the largest have a few thousand), well within what a backend checks.
MAX_EMBEDDING_DIMENSIONS = 65536
# OpenAI's error codes for our validation codes.
ERROR_CODES = {
    "required": "missing_required_parameter",
    "invalid_type": "invalid_type",
    "null": "invalid_type",
    "not_a_list": "invalid_type",
    "not_a_dict": "invalid_type",
}


# --- chat messages -------------------------------------------------------------------------------


class FunctionCallSerializer(serializers.Serializer):
    """A called function: its name and its arguments as JSON text."""

    name = StringField()
    arguments = StringField(allow_blank=True)


class ToolCallSerializer(serializers.Serializer):
    """One tool call of an assistant message."""

    id = StringField()
    type = serializers.ChoiceField(choices=TOOL_TYPES)
    function = FunctionCallSerializer()


class ChatMessageSerializer(serializers.Serializer):
    """One message; which fields it needs and which content parts it may carry depend on its role."""

    role = serializers.ChoiceField(choices=ROLES)
    content = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="A string or a list of content parts; null on an assistant message with tool_calls.",
    )
    name = StringField(required=False)
    tool_calls = ToolCallSerializer(many=True, required=False, allow_empty=False)
    tool_call_id = StringField(required=False, help_text="Required on a tool message.")
    function_call = FunctionCallSerializer(required=False, allow_null=True)
    refusal = StringField(required=False, allow_null=True)

    def validate(self, data: dict) -> dict:
        role = data["role"]
        if role == "tool" and "tool_call_id" not in data:
            raise serializers.ValidationError({"tool_call_id": "required on a tool message"}, code="required")
        if role == "function" and "name" not in data:
            raise serializers.ValidationError({"name": "required on a function message"}, code="required")
        if role != "assistant":
            for field in ("tool_calls", "function_call"):
                if field in data:
                    raise serializers.ValidationError({field: "only an assistant message may have it"})
        content = data.get("content")
        if content is None:
            may_be_empty = role == "function" or (
                role == "assistant" and (data.get("tool_calls") or data.get("function_call"))
            )
            if not may_be_empty:
                code = "null" if "content" in data else "required"
                message = "must not be null" if code == "null" else f"required on a {role} message"
                if role == "assistant":
                    message += " without tool_calls"
                raise serializers.ValidationError({"content": message}, code=code)
        elif isinstance(content, list):
            self._check_parts(content, PART_TYPES[role], role)
        elif not isinstance(content, str):
            raise serializers.ValidationError(
                {"content": type_error("a string or an array of content parts", content).detail}
            )
        return data

    def _check_parts(self, parts: list, allowed: tuple[str, ...], role: str) -> None:
        if not parts:
            raise serializers.ValidationError({"content": "empty array: expected at least one content part"})
        for index, part in enumerate(parts):
            error = content_part_error(part, allowed, role)
            if error is not None:
                field, message, code = error
                detail = {field: message} if field else message
                raise serializers.ValidationError({"content": {index: detail}}, code=code)


def content_part_error(part: Any, allowed: tuple[str, ...], role: str) -> tuple[str, str, str] | None:
    """(field, message, code) of what is wrong with one content part, or None."""
    if not isinstance(part, dict):
        return "", f"expected an object, but got {json_type(part)} instead", "invalid_type"
    kind = part.get("type")
    if kind not in allowed:
        expected = ", ".join(allowed)
        return "type", f"{kind!r} is not a content part of a {role} message: expected one of {expected}", "invalid"
    value = part.get(kind)
    if kind in {"text", "refusal"}:
        if isinstance(value, str):
            return None
        return kind, f"expected a string, but got {json_type(value)} instead", "invalid_type"
    if not isinstance(value, dict):
        return kind, f"expected an object, but got {json_type(value)} instead", "invalid_type"
    if kind == "image_url" and not isinstance(value.get("url"), str):
        return kind, "expected an object with a string 'url'", "invalid"
    if kind == "input_audio" and (not isinstance(value.get("data"), str) or value.get("format") not in {"wav", "mp3"}):
        return kind, "expected an object with a string 'data' and a 'format' of wav or mp3", "invalid"
    return None


# --- tools and structured output -----------------------------------------------------------------


class FunctionDefinitionSerializer(serializers.Serializer):
    name = StringField(validators=[NAME])
    description = StringField(required=False, allow_blank=True)
    parameters = ObjectField(required=False, help_text="A JSON schema of the arguments.")
    strict = BooleanField(required=False, allow_null=True)


class ToolSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=TOOL_TYPES)
    function = FunctionDefinitionSerializer()


class JSONSchemaFormatSerializer(serializers.Serializer):
    name = StringField(validators=[NAME])
    description = StringField(required=False, allow_blank=True)
    schema = ObjectField(required=False)
    strict = BooleanField(required=False, allow_null=True)


class ResponseFormatSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=RESPONSE_FORMAT_TYPES)
    json_schema = JSONSchemaFormatSerializer(required=False)

    def validate(self, data: dict) -> dict:
        if data["type"] == "json_schema" and "json_schema" not in data:
            raise serializers.ValidationError({"json_schema": "required when type is json_schema"}, code="required")
        return data


class ToolChoiceField(serializers.JSONField):
    """ "none", "auto", "required", or `{"type": "function", "function": {"name"}}`."""

    def to_internal_value(self, data: Any) -> str | dict:
        if isinstance(data, str):
            if data not in TOOL_CHOICE_MODES:
                raise serializers.ValidationError(f"{data!r} is not one of {', '.join(TOOL_CHOICE_MODES)}")
            return data
        function = data.get("function") if isinstance(data, dict) else None
        if not (isinstance(data, dict) and data.get("type") == "function" and isinstance(function, dict)):
            raise serializers.ValidationError(
                'expected "none", "auto", "required" or {"type": "function", "function": {"name": …}}'
            )
        if not isinstance(function.get("name"), str):
            raise serializers.ValidationError({"function": {"name": "expected a string"}})
        return data


def items_error(items: list, expected: str, is_valid: Any) -> serializers.ValidationError | None:
    """The error naming the first item of `items` that is not `expected` (`stop[1]`), or None."""
    for index, item in enumerate(items):
        if not is_valid(item):
            return serializers.ValidationError({index: type_error(expected, item).detail}, code="invalid_type")
    return None


class StopField(serializers.JSONField):
    """A string or a list of strings; a wrong item is named by its index (`stop[0]`)."""

    def to_internal_value(self, data: Any) -> str | list[str]:
        if isinstance(data, str):
            return data
        if not isinstance(data, list):
            raise type_error("a string or an array of strings", data)
        error = items_error(data, "a string", lambda item: isinstance(item, str))
        if error is not None:
            raise error
        return data


class StreamOptionsSerializer(serializers.Serializer):
    include_usage = BooleanField(required=False, default=False)


class ChatCompletionRequestSerializer(serializers.Serializer):
    """POST /v1/chat/completions, as OpenAI's API takes it."""

    model = StringField()
    messages = ChatMessageSerializer(many=True, allow_empty=False)
    stream = BooleanField(required=False, allow_null=True, default=False)
    stream_options = StreamOptionsSerializer(required=False, allow_null=True)
    temperature = NumberField(required=False, allow_null=True, min_value=0, max_value=2)
    top_p = NumberField(required=False, allow_null=True, min_value=0, max_value=1)
    top_k = BoundedIntegerField(
        required=False, allow_null=True, min_value=0, max_value=INT32_MAX, help_text="Ollama, vLLM, the model runtime"
    )
    max_tokens = IntegerField(required=False, allow_null=True, min_value=1)
    max_completion_tokens = IntegerField(required=False, allow_null=True, min_value=1)
    stop = StopField(required=False, allow_null=True, help_text="A string or a list of strings.")
    seed = IntegerField(required=False, allow_null=True, min_value=INT64_MIN, max_value=INT64_MAX)
    presence_penalty = NumberField(required=False, allow_null=True, min_value=-2, max_value=2)
    frequency_penalty = NumberField(required=False, allow_null=True, min_value=-2, max_value=2)
    n = IntegerField(required=False, allow_null=True, min_value=1, max_value=1, help_text="Only 1 is supported.")
    tools = ToolSerializer(many=True, required=False, allow_empty=False)
    tool_choice = ToolChoiceField(
        required=False, allow_null=True, help_text='"none", "auto", "required" or {"type": "function", …}.'
    )
    parallel_tool_calls = BooleanField(required=False, allow_null=True)
    response_format = ResponseFormatSerializer(required=False, allow_null=True)
    user = StringField(required=False, allow_blank=True)
    think = BooleanField(
        required=False,
        allow_null=True,
        help_text="Let a reasoning model think before it answers (the model runtime, Ollama, vLLM); the thinking "
        "comes back as `reasoning_content` and `thinking`. Dropped for servers without such a switch (OpenAI).",
    )
    thinking_budget = IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="Tokens of thinking at most (the model runtime; others have no budget and drop it).",
    )

    def validate(self, data: dict) -> dict:
        called: set[str] = set()
        for index, message in enumerate(data["messages"]):
            called.update(call["id"] for call in message.get("tool_calls") or [])
            if message["role"] == "tool" and message["tool_call_id"] not in called:
                error = {"tool_call_id": "answers no tool call of an earlier assistant message"}
                raise serializers.ValidationError({"messages": {index: error}})
        choice = data.get("tool_choice")
        if choice not in (None, "none") and not data.get("tools"):
            raise serializers.ValidationError({"tool_choice": "only allowed when tools are given"})
        if isinstance(choice, dict):
            names = {tool["function"]["name"] for tool in data["tools"]}
            if choice["function"]["name"] not in names:
                raise serializers.ValidationError(
                    {"tool_choice": f"names function {choice['function']['name']!r}, which is not in tools"}
                )
        return data


class CompletionMessageSerializer(ChatMessageSerializer):
    reasoning_content = serializers.CharField(
        required=False, allow_blank=True, help_text="The model's thinking, when it was asked to think and did."
    )


class ChatChoiceSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    message = CompletionMessageSerializer()
    finish_reason = serializers.CharField(allow_null=True, help_text="stop, length, tool_calls, …")


class CompletionThinkingSerializer(serializers.Serializer):
    content = serializers.CharField(allow_blank=True)
    tokens = serializers.IntegerField(allow_null=True, help_text="Null when the backend does not count them.")


class UsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField(required=False)
    total_tokens = serializers.IntegerField()


class ChatCompletionResponseSerializer(serializers.Serializer):
    """OpenAI's chat completion, as the backend answered it (fields OpenAI adds pass through)."""

    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    model = serializers.CharField()
    choices = ChatChoiceSerializer(many=True)
    usage = UsageSerializer(required=False)
    thinking = CompletionThinkingSerializer(
        required=False, help_text="The projects spec's thinking, when the model thought."
    )


# --- embeddings ----------------------------------------------------------------------------------


class EmbeddingInputField(serializers.JSONField):
    """A string, a list of strings, a list of token ids, or a list of token-id lists; non-empty.

    Always returned as a list of inputs: texts, or token-id lists. The first item says which kind
    of list it is; an item of another kind is named by its index (`input[1]`, `input[1][0]`).
    """

    EXPECTED = "a string, an array of strings, an array of integers or an array of integer arrays"
    TOKEN = "a token id (an integer from 0)"

    def to_internal_value(self, data: Any) -> list[str] | list[list[int]]:
        if isinstance(data, str):
            data = [data]
        if not isinstance(data, list):
            raise type_error(self.EXPECTED, data)
        if data:
            first = data[0]
            if isinstance(first, str):
                error = items_error(data, "a string", lambda item: isinstance(item, str))
            elif isinstance(first, list):
                error = self._token_lists_error(data)
            elif is_token(first):
                error = items_error(data, self.TOKEN, is_token)
                data = [data]  # one token list
            else:
                error = serializers.ValidationError({0: type_error(self.EXPECTED, first).detail}, code="invalid_type")
            if error is not None:
                raise error
        if not data or any(len(item) == 0 for item in data):
            raise serializers.ValidationError("must not be empty, nor hold an empty input")
        return data

    def _token_lists_error(self, data: list) -> serializers.ValidationError | None:
        error = items_error(data, "an array of token ids", lambda item: isinstance(item, list))
        if error is not None:
            return error
        for index, tokens in enumerate(data):
            inner = items_error(tokens, self.TOKEN, is_token)
            if inner is not None:
                return serializers.ValidationError({index: inner.detail})
        return None


def is_token(value: Any) -> bool:
    """Whether `value` is a token id: a non-negative integer."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT64_MAX


def is_tokens(value: Any) -> bool:
    """Whether `value` is a list of token ids."""
    return isinstance(value, list) and all(map(is_token, value))


class EmbeddingsRequestSerializer(serializers.Serializer):
    """POST /v1/embeddings, as OpenAI's API takes it."""

    model = StringField()
    input = EmbeddingInputField(help_text="A string, a list of strings, a token list or a list of token lists.")
    encoding_format = serializers.ChoiceField(choices=["float", "base64"], required=False, default="float")
    dimensions = IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_EMBEDDING_DIMENSIONS,
        help_text="The vectors' length; a backend that cannot give it answers 400.",
    )
    user = StringField(required=False, allow_blank=True)


class EmbeddingSerializer(serializers.Serializer):
    object = serializers.CharField()
    index = serializers.IntegerField()
    embedding = serializers.JSONField(help_text="A list of floats, or a base64 string with encoding_format=base64")


class EmbeddingsResponseSerializer(serializers.Serializer):
    object = serializers.CharField()
    data = EmbeddingSerializer(many=True)
    model = serializers.CharField()
    usage = UsageSerializer()
    warnings = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="What the backend warns about: inputs it truncated"
    )


# --- errors --------------------------------------------------------------------------------------


def parameter_name(location: tuple) -> str:
    """OpenAI's name of a request parameter: `messages[0].content`."""
    name = ""
    for part in location:
        if part == "non_field_errors":
            continue
        name += f"[{part}]" if isinstance(part, int) else f".{part}" if name else str(part)
    return name


def invalid_request_body(detail: object) -> dict:
    """OpenAI's error object for invalid input: every problem in the message, the first one's
    parameter in `param` and its kind in `code`."""
    errors = field_errors(detail)
    messages = []
    for location, message, _code in errors:
        param = parameter_name(location)
        messages.append(f"Invalid '{param}': {message}" if param else message)
    location, _message, code = errors[0] if errors else ((), "", "invalid")
    return error_body(
        "; ".join(messages) or "invalid request",
        400,
        code=ERROR_CODES.get(str(code), "invalid_value"),
        param=parameter_name(location) or None,
    )


def openai_exception_handler(exc: Exception, context: dict) -> Response:
    """Invalid input is OpenAI's 400 with its error object (not the platform's 422); a model no
    backend has is OpenAI's 404 `model_not_found`; every other error goes through the surface's
    handler, which renders it with the view's `format_error`."""
    if isinstance(exc, ModelNotFound):
        body = error_body(exc.message, 404, code="model_not_found", error_type="invalid_request_error")
        return Response(body, status=404)
    if isinstance(exc, DomainError) and exc.fields.get("param"):
        return Response(
            error_body(exc.message, exc.status_code, param=str(exc.fields["param"])), status=exc.status_code
        )
    if isinstance(exc, exceptions.ValidationError):
        return Response(invalid_request_body(exc.detail), status=400)
    if isinstance(exc, exceptions.ParseError):
        message = f"We could not parse the JSON body of your request: {exc.detail}"
        return Response(error_body(message, 400, code="invalid_json"), status=400)
    return api_exception_handler(exc, context)
