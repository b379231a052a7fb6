"""Request and response shapes of the model-store API and the models cache API, as the specs write them."""

from rest_framework import serializers

from apps.core.schema import DiskUsageSerializer
from apps.core.validation import BoundedIntegerField
from apps.modelstore import services, units
from apps.modelstore.models import LocalModel
from apps.modelstore.sources import DEFAULT_SOURCE

FORMATS = ["gguf", "safetensors", "pytorch"]


# --- model-store API (/api/v1/…) --------------------------------------------------------------------


class SearchQuerySerializer(serializers.Serializer):
    query = serializers.CharField(required=False, allow_null=True, default=None, help_text="Free-text search query")
    source = serializers.CharField(default=DEFAULT_SOURCE, help_text="Source plugin to query")
    provider = serializers.CharField(required=False, allow_null=True, default=None, help_text="Author/organization")
    params = serializers.CharField(
        required=False, allow_null=True, default=None, help_text="Parameter count: '7b' (±20%), '<3b', '>=30b', '500m'"
    )
    size = serializers.CharField(
        required=False, allow_null=True, default=None, help_text="Total size: '<100gb', '>=500mb' (binary units)"
    )
    format = serializers.ChoiceField(choices=FORMATS, required=False, allow_null=True, default=None)
    task = serializers.CharField(required=False, allow_null=True, default=None, help_text="Pipeline tag")
    license = serializers.CharField(required=False, allow_null=True, default=None, help_text="e.g. apache-2.0")
    limit = serializers.IntegerField(default=20, min_value=1, max_value=100)

    def validate_params(self, value: str | None) -> units.Bound | None:
        return _parsed(units.parse_params_filter, value)

    def validate_size(self, value: str | None) -> units.Bound | None:
        return _parsed(units.parse_size_filter, value)


def _parsed(parse: object, value: str | None) -> units.Bound | None:
    if value in (None, ""):
        return None
    try:
        return parse(value)  # type: ignore[operator]
    except Exception as error:
        raise serializers.ValidationError(getattr(error, "message", str(error))) from None


class RemoteModelSerializer(serializers.Serializer):
    source = serializers.CharField()
    model_id = serializers.CharField()
    model_name = serializers.CharField()
    author = serializers.CharField()
    total_size_bytes = serializers.IntegerField()
    file_count = serializers.IntegerField()
    parameter_count = serializers.FloatField(allow_null=True, help_text="Billions of parameters (8 for 8.03e9)")
    architecture = serializers.CharField(allow_null=True)
    format = serializers.ListField(child=serializers.CharField())
    quantization = serializers.CharField(allow_null=True)
    tags = serializers.ListField(child=serializers.CharField())
    license = serializers.CharField(allow_null=True)
    downloads = serializers.IntegerField()
    likes = serializers.IntegerField()
    created_at = serializers.CharField()
    updated_at = serializers.CharField()
    web_url = serializers.CharField()
    repo_url = serializers.CharField()
    gated = serializers.JSONField(
        help_text='The hub\'s `gated`: false, "auto" or "manual" (access must be requested; downloads need a token)'
    )

    def to_representation(self, instance: object) -> dict:
        return instance.as_dict()  # type: ignore[attr-defined]


class SearchResponseSerializer(serializers.Serializer):
    query = serializers.CharField(allow_null=True)
    source = serializers.CharField()
    count = serializers.IntegerField()
    results = RemoteModelSerializer(many=True)


class LocalModelSerializer(serializers.Serializer):
    source = serializers.CharField()
    model_id = serializers.CharField()
    path = serializers.CharField()
    size_bytes = serializers.IntegerField()
    downloaded_at = serializers.CharField(help_text="UTC, e.g. 2025-02-12T14:30:00.123456")
    last_used = serializers.CharField(allow_null=True)
    files = serializers.ListField(child=serializers.CharField())
    metadata = serializers.DictField()

    def to_representation(self, instance: LocalModel) -> dict:
        return {
            "source": instance.source,
            "model_id": instance.model_id,
            "path": instance.path,
            "size_bytes": instance.size_bytes,
            "downloaded_at": services.naive_iso(instance.downloaded_at),
            "last_used": services.naive_iso(instance.last_used),
            "files": instance.files,
            "metadata": instance.metadata,
        }


class ModelListQuerySerializer(serializers.Serializer):
    source = serializers.CharField(required=False, allow_null=True, default=None)


class ModelListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    models = LocalModelSerializer(many=True)


class ModelDetailSerializer(serializers.Serializer):
    local = LocalModelSerializer(allow_null=True)
    remote = RemoteModelSerializer(allow_null=True)


class ModelDeletedSerializer(serializers.Serializer):
    deleted = serializers.BooleanField()
    model_id = serializers.CharField()
    source = serializers.CharField()


class DownloadRequestSerializer(serializers.Serializer):
    model_id = serializers.CharField(help_text="Model identifier, or its hub URL")
    source = serializers.CharField(default=DEFAULT_SOURCE)
    force = serializers.BooleanField(default=False, help_text="Re-download even if present")
    include_patterns = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True, default=None, help_text='e.g. ["*Q4_K_M*"]'
    )


class DownloadResponseSerializer(serializers.Serializer):
    model_id = serializers.CharField()
    source = serializers.CharField()
    path = serializers.CharField()
    files = serializers.ListField(child=serializers.CharField())
    size_bytes = serializers.IntegerField()


class SourceStatusSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    size_bytes = serializers.IntegerField()


class StatusSerializer(serializers.Serializer):
    model_count = serializers.IntegerField()
    total_size_bytes = serializers.IntegerField()
    storage_path = serializers.CharField()
    sources = serializers.DictField(child=SourceStatusSerializer())


class CleanRequestSerializer(serializers.Serializer):
    unused = serializers.BooleanField(default=False, help_text="Remove models not used within `days`")
    days = BoundedIntegerField(default=30, min_value=0, max_value=36500)  # timedelta and dates stay in range
    all = serializers.BooleanField(default=False, help_text="Remove all models")
    dry_run = serializers.BooleanField(default=False, help_text="List what would be removed without deleting")


class CleanResponseSerializer(serializers.Serializer):
    removed = serializers.IntegerField()
    freed_bytes = serializers.IntegerField()
    dry_run = serializers.BooleanField()
    models = serializers.ListField(child=serializers.CharField())


class ExportRequestSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=list(services.EXPORT_FORMATS), default="kitt")


class ExportResponseSerializer(serializers.Serializer):
    format = serializers.CharField()
    count = serializers.IntegerField()
    content = serializers.ListField(child=serializers.JSONField(), help_text="Paths (kitt) or model objects (json)")


# --- models cache API (/v1/models…) ----------------------------------------------------------------


class CacheDownloadRequestSerializer(serializers.Serializer):
    provider = serializers.CharField(default="universal")
    model_name = serializers.CharField()
    include_patterns = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True, default=None
    )
    quantization = serializers.CharField(
        required=False, allow_null=True, default=None, help_text="Only the GGUF files of this quantization, e.g. Q4_K_M"
    )
    force = serializers.BooleanField(default=False)


class ValidateDownloadRequestSerializer(serializers.Serializer):
    model_name = serializers.CharField()
    provider = serializers.CharField(default="universal")
    include_patterns = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True, default=None
    )


class ValidateDownloadSerializer(serializers.Serializer):
    can_download = serializers.BooleanField()
    warning = serializers.BooleanField()
    message = serializers.CharField()
    available_bytes = serializers.IntegerField()
    required_bytes = serializers.IntegerField()
    cache_info = DiskUsageSerializer()
    system_info = DiskUsageSerializer()


class QuantizationSerializer(serializers.Serializer):
    filename = serializers.CharField()
    quantization = serializers.CharField()
    size_bytes = serializers.IntegerField()
    size_human = serializers.CharField()


class QuantizationsSerializer(serializers.Serializer):
    options = QuantizationSerializer(many=True)


# --- the mirror: the Hugging Face hub's JSON, as `huggingface_hub` parses it (camelCase as the hub writes it) ---


class HubLfsSerializer(serializers.Serializer):
    """An LFS file's pointer facts (`sha256` only in model info's siblings)."""

    sha256 = serializers.CharField(required=False)
    oid = serializers.CharField()
    size = serializers.IntegerField()
    pointerSize = serializers.IntegerField()


class HubSiblingSerializer(serializers.Serializer):
    """One file of a repo in model info; sizes, blob ids and LFS facts only with `blobs=true`."""

    rfilename = serializers.CharField()
    size = serializers.IntegerField(required=False)
    blobId = serializers.CharField(required=False)
    lfs = HubLfsSerializer(required=False)


class HubModelInfoSerializer(serializers.Serializer):
    """`GET /api/models/{repo}`: what `HfApi.model_info` and `list_models` parse."""

    _id = serializers.CharField()
    id = serializers.CharField()
    modelId = serializers.CharField()
    author = serializers.CharField(allow_null=True)
    sha = serializers.CharField()
    lastModified = serializers.CharField()
    createdAt = serializers.CharField()
    private = serializers.BooleanField()
    gated = serializers.BooleanField()
    disabled = serializers.BooleanField()
    downloads = serializers.IntegerField()
    likes = serializers.IntegerField()
    library_name = serializers.CharField(allow_null=True)
    pipeline_tag = serializers.CharField(allow_null=True)
    tags = serializers.ListField(child=serializers.CharField())
    cardData = serializers.DictField()
    config = serializers.DictField()
    siblings = HubSiblingSerializer(many=True)
    spaces = serializers.ListField(child=serializers.CharField())
    usedStorage = serializers.IntegerField()
    safetensors = serializers.DictField(required=False, help_text="parameters by dtype and total")
    gguf = serializers.DictField(required=False, help_text="total, architecture, context_length")


class HubCommitAuthorSerializer(serializers.Serializer):
    user = serializers.CharField()
    avatar = serializers.CharField(allow_null=True)


class HubCommitSerializer(serializers.Serializer):
    """A commit as `HfApi.list_repo_commits` parses it (the store's repos have one)."""

    id = serializers.CharField()
    title = serializers.CharField()
    message = serializers.CharField(allow_blank=True)
    authors = HubCommitAuthorSerializer(many=True)
    date = serializers.CharField()


class HubLastCommitSerializer(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    date = serializers.CharField()


class HubTreeEntrySerializer(serializers.Serializer):
    """A file or folder as the hub's tree and paths-info list it; `lastCommit` with `expand=true`."""

    type = serializers.ChoiceField(choices=["file", "directory"])
    oid = serializers.CharField()
    size = serializers.IntegerField()
    path = serializers.CharField()
    lfs = HubLfsSerializer(required=False)
    lastCommit = HubLastCommitSerializer(required=False)


class HubRefSerializer(serializers.Serializer):
    name = serializers.CharField()
    ref = serializers.CharField()
    targetCommit = serializers.CharField()


class HubRefsSerializer(serializers.Serializer):
    """`GET /api/models/{repo}/refs`: what `HfApi.list_repo_refs` parses."""

    branches = HubRefSerializer(many=True)
    converts = HubRefSerializer(many=True)
    tags = HubRefSerializer(many=True)
    pullRequests = HubRefSerializer(many=True)
