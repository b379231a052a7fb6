"""Request and response shapes of the runtime spec (camelCase, exactly as written there)."""

from rest_framework import serializers

from apps.backends.models import Backend, Pool, RegisteredModel
from apps.backends.providers import PROVIDER_TYPES, PROVIDERS
from apps.core.validation import BoundedIntegerField, header_value_validate


def provider_type_field(**options: object) -> serializers.ChoiceField:
    """A provider type; an unknown one is refused naming the valid ones."""
    message = PROVIDERS.unknown_message("{input}")  # DRF fills in {input}: the registry's own message
    return serializers.ChoiceField(choices=PROVIDER_TYPES, error_messages={"invalid_choice": message}, **options)


class BackendSerializer(serializers.ModelSerializer):
    id = serializers.CharField(required=False, help_text="A UUID; generated when left out.")
    baseUrl = serializers.CharField(source="base_url", max_length=500)  # noqa: N815
    type = provider_type_field()
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
    # Left out when the backend has no error: not read-only, so the schema does not mark it required
    # (drf-spectacular makes every read-only response field required). Never used for input.
    error = serializers.CharField(source="state_error", required=False)

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
    contextLength = BoundedIntegerField(source="context_length", min_value=0, default=0)  # noqa: N815
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


class ModelCatalogEntrySerializer(serializers.Serializer):
    """One entry of the platform's `GET /v1/models`: OpenAI's model and the models cache's at once."""

    id = serializers.CharField(help_text="OpenAI: the model id, as the gateway takes it")
    object = serializers.CharField(help_text='OpenAI: "model"')
    created = serializers.IntegerField(help_text="OpenAI: Unix time it was declared, pulled or stored")
    owned_by = serializers.CharField(help_text="OpenAI: the backend types serving it, or the author or source")
    model_id = serializers.CharField(help_text="Models cache: the model id")
    size_bytes = serializers.IntegerField()
    size_human = serializers.CharField()
    last_modified = serializers.CharField()
    revisions = serializers.ListField(child=serializers.CharField())
    backends = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="The backends routing may send it to (routable only)"
    )
    source = serializers.CharField(required=False, help_text="The model store's source (stored models only)")


class ModelCatalogSerializer(serializers.Serializer):
    object = serializers.CharField()
    data = ModelCatalogEntrySerializer(many=True)


class ModelCatalogQuerySerializer(serializers.Serializer):
    provider = serializers.CharField(
        required=False,
        help_text="Left out: every routable and every stored model. 'universal' or a source name: the models "
        "cache's view, stored models only (of that source).",
    )


class CacheProviderQuerySerializer(serializers.Serializer):
    provider = serializers.CharField(default="universal", help_text="'universal' (every source) or a source name")


class CacheDeletedSerializer(serializers.Serializer):
    model_name = serializers.CharField()
    revisions_deleted = serializers.IntegerField()
    size_freed = serializers.IntegerField()
    path = serializers.CharField()


class DeleteModelQuerySerializer(serializers.Serializer):
    purge = serializers.BooleanField(required=False, default=False)


class ProviderConfigSerializer(serializers.Serializer):
    APIKey = serializers.CharField(help_text="Masked: the key is never shown in clear.")
    Type = serializers.CharField()


class ProviderConfigureSerializer(serializers.Serializer):
    # Sent as `Authorization: Bearer`: a value no header can carry is refused here, not at the first call.
    apiKey = serializers.CharField(required=False, write_only=True, validators=[header_value_validate])  # noqa: N815
    APIKey = serializers.CharField(required=False, write_only=True, validators=[header_value_validate])

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
    model_provider = provider_type_field(required=False, allow_blank=True, help_text="Only backends of this type.")


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
