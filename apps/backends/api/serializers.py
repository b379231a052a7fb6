"""Request and response shapes of the runtime spec (camelCase, exactly as written there)."""

from rest_framework import serializers

from apps.backends.models import Backend, Pool, RegisteredModel
from apps.backends.services import PROVIDER_TYPES


class BackendSerializer(serializers.ModelSerializer):
    id = serializers.CharField(required=False, help_text="A UUID; generated when left out.")
    baseUrl = serializers.CharField(source="base_url", max_length=500)  # noqa: N815
    type = serializers.ChoiceField(choices=PROVIDER_TYPES)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)  # noqa: N815
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)  # noqa: N815

    class Meta:
        model = Backend
        fields = ["id", "name", "baseUrl", "type", "createdAt", "updatedAt"]
        extra_kwargs = {"name": {"validators": []}}  # uniqueness is the service's 409, not a 400

    def validate_baseUrl(self, value: str) -> str:  # noqa: N802
        if not value.startswith(("http://", "https://")):
            raise serializers.ValidationError("must start with http:// or https://")
        return value


class PulledModelSerializer(serializers.Serializer):
    name = serializers.CharField()
    model = serializers.CharField()
    canChat = serializers.BooleanField()  # noqa: N815
    canEmbed = serializers.BooleanField()  # noqa: N815
    canPrompt = serializers.BooleanField()  # noqa: N815
    canStream = serializers.BooleanField()  # noqa: N815
    contextLength = serializers.IntegerField(allow_null=True)  # noqa: N815
    size = serializers.IntegerField(allow_null=True)
    digest = serializers.CharField(allow_blank=True)
    modifiedAt = serializers.DateTimeField(allow_null=True)  # noqa: N815
    details = serializers.DictField()


class BackendDetailsSerializer(BackendSerializer):
    """A backend with its runtime state (GET /backends, GET /backends/{id})."""

    models = serializers.ListField(child=serializers.CharField(), source="model_names", read_only=True)
    pulledModels = PulledModelSerializer(many=True, source="state_models", read_only=True)  # noqa: N815
    error = serializers.CharField(source="state_error", read_only=True)

    class Meta(BackendSerializer.Meta):
        fields = [*BackendSerializer.Meta.fields, "models", "pulledModels", "error"]

    def to_representation(self, instance: Backend) -> dict:
        data = super().to_representation(instance)
        if not data["error"]:
            data.pop("error")
        return data


class BackendStateSerializer(serializers.Serializer):
    """GET /state: the physical state of one backend."""

    id = serializers.CharField()
    name = serializers.CharField()
    backend = BackendSerializer()
    models = serializers.ListField(child=serializers.CharField())
    pulledModels = PulledModelSerializer(many=True)  # noqa: N815
    error = serializers.CharField(required=False)

    def to_representation(self, instance: Backend) -> dict:
        data = {
            "id": str(instance.id),
            "name": instance.name,
            "backend": BackendSerializer(instance).data,
            "models": instance.model_names,
            "pulledModels": instance.state_models,
        }
        if instance.state_error:
            data["error"] = instance.state_error
        return data


class PoolSerializer(serializers.ModelSerializer):
    id = serializers.CharField(required=False, help_text="A UUID; generated when left out.")
    purposeType = serializers.CharField(source="purpose_type", max_length=200)  # noqa: N815
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)  # noqa: N815
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)  # noqa: N815

    class Meta:
        model = Pool
        fields = ["id", "name", "purposeType", "createdAt", "updatedAt"]
        extra_kwargs = {"name": {"validators": []}}


class PoolPageSerializer(serializers.Serializer):
    cursor = serializers.DateTimeField(required=False, help_text="RFC 3339 createdAt: pools created before it.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=100)


class RegisteredModelSerializer(serializers.ModelSerializer):
    id = serializers.CharField(required=False, help_text="A UUID; generated when left out.")
    canChat = serializers.BooleanField(source="can_chat", default=True)  # noqa: N815
    canEmbed = serializers.BooleanField(source="can_embed", default=False)  # noqa: N815
    canPrompt = serializers.BooleanField(source="can_prompt", default=True)  # noqa: N815
    canStream = serializers.BooleanField(source="can_stream", default=True)  # noqa: N815
    contextLength = serializers.IntegerField(source="context_length", min_value=0, default=0)  # noqa: N815
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)  # noqa: N815
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)  # noqa: N815

    class Meta:
        model = RegisteredModel
        fields = [
            "id",
            "model",
            "canChat",
            "canEmbed",
            "canPrompt",
            "canStream",
            "contextLength",
            "createdAt",
            "updatedAt",
        ]
        extra_kwargs = {"model": {"validators": []}}


class ModelUpdateSerializer(RegisteredModelSerializer):
    model = serializers.CharField(required=False)


class OpenAIModelSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    owned_by = serializers.CharField()


class OpenAIModelListSerializer(serializers.Serializer):
    object = serializers.CharField()
    data = OpenAIModelSerializer(many=True)


class DeleteModelQuerySerializer(serializers.Serializer):
    purge = serializers.BooleanField(required=False, default=False)


class ProviderConfigSerializer(serializers.Serializer):
    APIKey = serializers.CharField(help_text="Masked: the key is never shown in clear.")
    Type = serializers.CharField()


class ProviderConfigureSerializer(serializers.Serializer):
    apiKey = serializers.CharField(required=False, write_only=True)  # noqa: N815
    APIKey = serializers.CharField(required=False, write_only=True)

    def validate(self, data: dict) -> dict:
        api_key = data.get("apiKey") or data.get("APIKey")
        if not api_key:
            raise serializers.ValidationError({"apiKey": "This field is required."})
        return {"api_key": api_key}


class QueueItemSerializer(serializers.Serializer):
    id = serializers.CharField()
    taskType = serializers.CharField()  # noqa: N815
    modelJob = serializers.DictField()  # noqa: N815
    scheduledFor = serializers.IntegerField()  # noqa: N815
    validUntil = serializers.IntegerField()  # noqa: N815
    createdAt = serializers.DateTimeField()  # noqa: N815


class QueueCancelSerializer(serializers.Serializer):
    url = serializers.CharField(required=False)
    model = serializers.CharField(required=False)

    def validate(self, data: dict) -> dict:
        if not data.get("url") and not data.get("model"):
            raise serializers.ValidationError("give the 'url' or the 'model' query parameter")
        return data


class DefaultModelSerializer(serializers.Serializer):
    modelName = serializers.CharField()  # noqa: N815


class ExecuteRequestSerializer(serializers.Serializer):
    prompt = serializers.CharField()
    model_name = serializers.CharField(required=False, allow_blank=True, help_text="Default: the default model.")
    model_provider = serializers.CharField(required=False, allow_blank=True, help_text="Only backends of this type.")


class ExecuteResponseSerializer(serializers.Serializer):
    id = serializers.CharField()
    response = serializers.CharField()
    model = serializers.CharField()
    backend = serializers.CharField()
    backendType = serializers.CharField()  # noqa: N815
    durationMs = serializers.FloatField()  # noqa: N815


class EmbedRequestSerializer(serializers.Serializer):
    text = serializers.CharField()


class EmbedResponseSerializer(serializers.Serializer):
    vector = serializers.ListField(child=serializers.FloatField())


class ChatMessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["system", "user", "assistant", "tool", "developer"])
    content = serializers.JSONField(help_text="A string, or a list of content parts.")


class StreamOptionsSerializer(serializers.Serializer):
    include_usage = serializers.BooleanField(required=False, default=False)


class ChatCompletionRequestSerializer(serializers.Serializer):
    model = serializers.CharField()
    messages = ChatMessageSerializer(many=True, allow_empty=False)
    stream = serializers.BooleanField(required=False, default=False)
    stream_options = StreamOptionsSerializer(required=False)
    temperature = serializers.FloatField(required=False, min_value=0, max_value=2)
    top_p = serializers.FloatField(required=False, min_value=0, max_value=1)
    max_tokens = serializers.IntegerField(required=False, min_value=1)
    max_completion_tokens = serializers.IntegerField(required=False, min_value=1)
    stop = serializers.JSONField(required=False)
    seed = serializers.IntegerField(required=False)
    presence_penalty = serializers.FloatField(required=False)
    frequency_penalty = serializers.FloatField(required=False)
    n = serializers.IntegerField(required=False, min_value=1, max_value=1, help_text="Only 1 is supported.")


class ChatCompletionResponseSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    model = serializers.CharField()
    choices = serializers.ListField(child=serializers.DictField())
    usage = serializers.DictField(required=False)


class EmbeddingsRequestSerializer(serializers.Serializer):
    model = serializers.CharField()
    input = serializers.JSONField(help_text="A string or a list of strings.")
    encoding_format = serializers.ChoiceField(choices=["float", "base64"], required=False, default="float")

    def validate_input(self, value: object) -> list[str]:
        texts = [value] if isinstance(value, str) else value
        if not isinstance(texts, list) or not texts or not all(isinstance(text, str) for text in texts):
            raise serializers.ValidationError("must be a string or a non-empty list of strings")
        return texts


class EmbeddingsResponseSerializer(serializers.Serializer):
    object = serializers.CharField()
    data = serializers.ListField(child=serializers.DictField())
    model = serializers.CharField()
    usage = serializers.DictField()
