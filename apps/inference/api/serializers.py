"""The runtime surface's requests and answers: OpenAI's chat, embeddings and models shapes, plus
rerank (`{model, query, documents, top_n}`) and classify (`{model, texts}`), and OpenAI's error object."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.validation import INT64_MAX, INT64_MIN, BoundedIntegerField
from apps.inference.engines.chat import DEFAULT_THINKING_BUDGET

ROLES = ("system", "developer", "user", "assistant", "tool")
# Past any embedding model's width, well within what a request may carry.
MAX_DIMENSIONS = 65536
MAX_INPUTS = 2048


def _strings(value: Any, name: str, *, allow_one: bool) -> list[str]:
    if allow_one and isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        one = "a string or " if allow_one else ""
        raise serializers.ValidationError(f"expected {one}a non-empty array of strings for {name}")
    return value


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]})
class ContentField(serializers.JSONField):
    """A message's content: a string, or a list of content parts whose `text` parts are read."""

    def to_internal_value(self, data: Any) -> str | list:
        if isinstance(data, str):
            return data
        if isinstance(data, list) and all(isinstance(part, dict) for part in data):
            return data
        raise serializers.ValidationError("expected a string or an array of content parts")


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": 4}]})
class StopField(serializers.JSONField):
    """A string or up to four strings (OpenAI's limit)."""

    def to_internal_value(self, data: Any) -> list[str]:
        stops = _strings(data, "stop", allow_one=True)
        if len(stops) > 4:
            raise serializers.ValidationError("at most 4 stop strings")
        return stops


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]})
class TextsField(serializers.JSONField):
    """A string or a non-empty list of strings."""

    def to_internal_value(self, data: Any) -> list[str]:
        texts = _strings(data, "input", allow_one=True)
        if len(texts) > MAX_INPUTS:
            raise serializers.ValidationError(f"at most {MAX_INPUTS} inputs")
        return texts


class MessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLES)
    content = ContentField(allow_null=True, required=False)
    name = serializers.CharField(required=False)


class StreamOptionsSerializer(serializers.Serializer):
    include_usage = serializers.BooleanField(required=False, default=False)


class ChatCompletionRequestSerializer(serializers.Serializer):
    """POST /v1/chat/completions. `top_k` is llama.cpp's and vLLM's extension; 0 turns it off.
    `think` and `thinking_budget` are the projects spec's (Qwen3-style thinking models)."""

    model = serializers.CharField()
    messages = MessageSerializer(many=True, allow_empty=False)
    stream = serializers.BooleanField(required=False, default=False)
    stream_options = StreamOptionsSerializer(required=False, allow_null=True)
    temperature = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=2)
    top_p = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    top_k = BoundedIntegerField(required=False, allow_null=True, min_value=0, max_value=100000)
    max_tokens = BoundedIntegerField(required=False, allow_null=True, min_value=1)
    max_completion_tokens = BoundedIntegerField(required=False, allow_null=True, min_value=1)
    stop = StopField(required=False, allow_null=True)
    seed = BoundedIntegerField(required=False, allow_null=True, min_value=INT64_MIN, max_value=INT64_MAX)
    n = BoundedIntegerField(required=False, allow_null=True, min_value=1, max_value=1, help_text="Only 1.")
    user = serializers.CharField(required=False, allow_blank=True)
    think = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Let a model whose chat template has a thinking mode (Qwen3-style `<think>`) think before "
        "it answers; its thinking comes apart from the answer. Ignored by other models.",
    )
    thinking_budget = BoundedIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text=f"Tokens of thinking at most (default {DEFAULT_THINKING_BUDGET}), on top of `max_tokens`: "
        "thinking that reaches it is closed and the answer follows.",
    )


class AssistantMessageSerializer(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField(allow_blank=True)
    reasoning_content = serializers.CharField(
        required=False, allow_blank=True, help_text="The model's thinking, when it was asked to think and can."
    )


class ChoiceSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    message = AssistantMessageSerializer()
    finish_reason = serializers.CharField()


class CompletionTokensDetailsSerializer(serializers.Serializer):
    reasoning_tokens = serializers.IntegerField()


class UsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField(help_text="Thinking and answer tokens.")
    total_tokens = serializers.IntegerField()
    completion_tokens_details = CompletionTokensDetailsSerializer(
        required=False, help_text="With thinking: how many of the completion tokens were thinking."
    )


class ThinkingSerializer(serializers.Serializer):
    content = serializers.CharField(allow_blank=True, help_text="The thinking, without its `<think>` tags.")
    tokens = serializers.IntegerField(allow_null=True, help_text="Tokens the model thought (at most the budget).")


class ChatCompletionSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    model = serializers.CharField()
    choices = ChoiceSerializer(many=True)
    usage = UsageSerializer()
    thinking = ThinkingSerializer(
        required=False, help_text="The projects spec's thinking, when the model was asked to think and can."
    )


class EmbeddingsRequestSerializer(serializers.Serializer):
    """POST /v1/embeddings (texts only: token-id inputs are for servers that share the model's tokenizer)."""

    model = serializers.CharField()
    input = TextsField(help_text="A string or a list of strings.")
    encoding_format = serializers.ChoiceField(choices=["float", "base64"], required=False, default="float")
    dimensions = BoundedIntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_DIMENSIONS)
    user = serializers.CharField(required=False, allow_blank=True)


@extend_schema_field({"oneOf": [{"type": "array", "items": {"type": "number"}}, {"type": "string"}]})
class VectorField(serializers.JSONField):
    """A vector: a list of floats, or base64 of little-endian float32 (`encoding_format=base64`)."""


class EmbeddingSerializer(serializers.Serializer):
    object = serializers.CharField()
    index = serializers.IntegerField()
    embedding = VectorField()


class EmbeddingUsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class EmbeddingsSerializer(serializers.Serializer):
    object = serializers.CharField()
    data = EmbeddingSerializer(many=True)
    model = serializers.CharField()
    usage = EmbeddingUsageSerializer()
    dimension = serializers.IntegerField()
    warnings = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Inputs the model truncated, with their lengths."
    )


class RerankRequestSerializer(serializers.Serializer):
    model = serializers.CharField()
    query = serializers.CharField(trim_whitespace=False)
    documents = serializers.ListField(
        child=serializers.CharField(trim_whitespace=False, allow_blank=True), allow_empty=False, max_length=MAX_INPUTS
    )
    top_n = BoundedIntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_INPUTS)


class RerankResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    relevance_score = serializers.FloatField()
    document = serializers.CharField(allow_blank=True)


class RerankSerializer(serializers.Serializer):
    object = serializers.CharField()
    model = serializers.CharField()
    results = RerankResultSerializer(many=True)


class ClassifyRequestSerializer(serializers.Serializer):
    model = serializers.CharField()
    texts = serializers.ListField(
        child=serializers.CharField(trim_whitespace=False, allow_blank=True), allow_empty=False, max_length=MAX_INPUTS
    )


class LabelScoreSerializer(serializers.Serializer):
    label = serializers.CharField()
    score = serializers.FloatField()


class ClassificationSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    label = serializers.CharField()
    score = serializers.FloatField()
    scores = LabelScoreSerializer(many=True)


class ClassifySerializer(serializers.Serializer):
    object = serializers.CharField()
    model = serializers.CharField()
    data = ClassificationSerializer(many=True)


class RuntimeModelSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    owned_by = serializers.CharField()
    kind = serializers.ChoiceField(choices=["chat", "embedding", "rerank", "classify"])
    size_bytes = serializers.IntegerField()
    estimated_memory_bytes = serializers.IntegerField()
    loaded = serializers.BooleanField()
    memory_bytes = serializers.IntegerField(allow_null=True)
    last_used = serializers.IntegerField(allow_null=True, help_text="Unix time of its last use while loaded.")
    keep_loaded = serializers.BooleanField()


class RuntimeModelListSerializer(serializers.Serializer):
    object = serializers.CharField()
    data = RuntimeModelSerializer(many=True)


class UnloadRequestSerializer(serializers.Serializer):
    model = serializers.CharField()


class UnloadSerializer(serializers.Serializer):
    model = serializers.CharField()
    unloaded = serializers.BooleanField(help_text="False when it was not loaded.")


class RuntimeHealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    version = serializers.CharField()
    loaded_models = serializers.IntegerField()
    memory_used_bytes = serializers.IntegerField()
    memory_budget_bytes = serializers.IntegerField()
