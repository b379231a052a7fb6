"""Input and output shapes of the projects spec's Chat section (completions, sessions, models)."""

from typing import Any

from rest_framework import serializers

from apps.core.validation import BoundedIntegerField

# OpenAI's roles, as the platform's gateway takes them ("developer" is its newer "system").
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
INT32_MAX = 2**31 - 1
INT64 = 2**63
MAX_STOP_SEQUENCES = 4
MAX_RAG_TOP_K = 1000  # the rag app's own bound on top_k (apps.rag.retrieval.schemas.MAX_TOP_K)


class ProjectChatMessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLES)
    content = serializers.JSONField(
        required=False, allow_null=True, help_text="Text, or OpenAI's content parts; null for a tool-calling turn."
    )
    name = serializers.CharField(required=False, allow_blank=True)
    tool_calls = serializers.ListField(child=serializers.DictField(), required=False)
    tool_call_id = serializers.CharField(required=False)

    def validate_content(self, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(part, dict) and "type" in part for part in value):
            return value
        raise serializers.ValidationError("must be a string, a list of content parts, or null")

    def validate(self, data: dict) -> dict:
        if data["role"] == "tool" and not data.get("tool_call_id"):
            raise serializers.ValidationError({"tool_call_id": "required for a tool message"})
        if data.get("content") is None and not (data["role"] == "assistant" and data.get("tool_calls")):
            raise serializers.ValidationError({"content": "required (null only for an assistant's tool calls)"})
        return data


class ChatStreamOptionsSerializer(serializers.Serializer):
    include_usage = serializers.BooleanField(required=False, default=False)


class StopField(serializers.JSONField):
    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if isinstance(value, str):
            return value
        if isinstance(value, list) and len(value) <= MAX_STOP_SEQUENCES and all(isinstance(v, str) for v in value):
            return value
        raise serializers.ValidationError(f"must be a string or a list of at most {MAX_STOP_SEQUENCES} strings")


class ChatRequestSerializer(serializers.Serializer):
    """OpenAI's chat-completions body with the projects spec's extensions (RAG, thinking)."""

    messages = ProjectChatMessageSerializer(many=True, allow_empty=False)
    model = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="A runtime.models `name`, else the `model` (backend model id) of exactly one of them; "
        "default_model if empty.",
    )
    stream = serializers.BooleanField(required=False, default=False)
    stream_options = ChatStreamOptionsSerializer(required=False, allow_null=True)
    temperature = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=2)
    max_tokens = BoundedIntegerField(required=False, allow_null=True, min_value=1, max_value=INT32_MAX)
    max_completion_tokens = BoundedIntegerField(required=False, allow_null=True, min_value=1, max_value=INT32_MAX)
    top_p = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    top_k = BoundedIntegerField(required=False, allow_null=True, min_value=0, max_value=INT32_MAX)
    stop = StopField(required=False, allow_null=True, help_text="A string or a list of strings.")
    seed = BoundedIntegerField(required=False, allow_null=True, min_value=-INT64, max_value=INT64 - 1)
    presence_penalty = serializers.FloatField(required=False, allow_null=True, min_value=-2, max_value=2)
    frequency_penalty = serializers.FloatField(required=False, allow_null=True, min_value=-2, max_value=2)
    tools = serializers.ListField(child=serializers.DictField(), required=False, allow_empty=False)
    tool_choice = serializers.JSONField(required=False, allow_null=True, help_text='"none", "auto", "required" or {…}')
    response_format = serializers.DictField(required=False, allow_null=True)
    rag_enabled = serializers.BooleanField(
        required=False, allow_null=True, help_text="Default: on when the project has RAG databases."
    )
    database = serializers.CharField(required=False, allow_null=True, help_text="Default: the config's default.")
    rag_top_k = BoundedIntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_RAG_TOP_K)
    rag_score_threshold = serializers.FloatField(required=False, allow_null=True)
    rag_queries = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True, max_length=10, help_text="Run concurrently."
    )
    think = serializers.BooleanField(required=False, allow_null=True)
    thinking_budget = BoundedIntegerField(required=False, allow_null=True, min_value=1, max_value=INT32_MAX)

    def validate(self, data: dict) -> dict:
        for index, tool in enumerate(data.get("tools") or []):
            if tool.get("type") != "function" or not isinstance(tool.get("function"), dict):
                raise serializers.ValidationError({"tools": {index: 'must be {"type": "function", "function": {…}}'}})
        if data.get("tool_choice") not in (None, "none") and not data.get("tools"):
            raise serializers.ValidationError({"tool_choice": "only allowed when tools are given"})
        return data


class AnswerMessageSerializer(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField(allow_null=True)
    tool_calls = serializers.ListField(child=serializers.DictField(), required=False)
    reasoning_content = serializers.CharField(required=False, help_text="The model's thinking, when it gave any.")


class ChoiceSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    message = AnswerMessageSerializer()
    finish_reason = serializers.CharField(allow_null=True)


class ChatUsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class ThinkingSerializer(serializers.Serializer):
    content = serializers.CharField()
    tokens = serializers.IntegerField(allow_null=True)


class RagSourceSerializer(serializers.Serializer):
    document_id = serializers.CharField(help_text="The file's SHA-256.")
    filename = serializers.CharField(allow_null=True)
    page = serializers.IntegerField(allow_null=True)
    chunk_id = serializers.CharField()
    score = serializers.FloatField()
    excerpt = serializers.CharField(help_text="The chunk's first ~200 characters.")


class ChatCompletionSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    model = serializers.CharField()
    choices = ChoiceSerializer(many=True)
    usage = ChatUsageSerializer(required=False)
    system_fingerprint = serializers.CharField(required=False)
    thinking = ThinkingSerializer(
        required=False, allow_null=True, help_text="With `think`: the model's reasoning; null when it gave none."
    )
    rag_sources = RagSourceSerializer(many=True, help_text="The chunks given to the model; [] without RAG.")


class HistoryMessageSerializer(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField(allow_blank=True)


class HistorySerializer(serializers.Serializer):
    messages = HistoryMessageSerializer(many=True)


class SessionDeletedSerializer(serializers.Serializer):
    message = serializers.CharField()


class SessionsDeletedSerializer(serializers.Serializer):
    message = serializers.CharField()
    count = serializers.IntegerField()


class ProjectModelSerializer(serializers.Serializer):
    name = serializers.CharField()
    provider = serializers.CharField()
    model = serializers.CharField()
    base_url = serializers.CharField(allow_null=True)
    default = serializers.BooleanField()
    description = serializers.CharField(allow_blank=True)


class ModelsListSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    models = ProjectModelSerializer(many=True)
