"""Input validation and the documented shapes of the node surface and the cluster API."""

from django.http import QueryDict
from rest_framework import serializers

from apps.core.schema import NodeIdentitySerializer
from apps.core.validation import BoundedIntegerField, header_value_validate
from apps.nodes import listing, services
from apps.nodes.models import Node, node_name_validate


class FitQuerySerializer(serializers.Serializer):
    """Typed query parameters; the choice ones (min_fit, runtime, use_case, sort) are checked by the service
    so that their 400 bodies are the spec's, word for word."""

    limit = BoundedIntegerField(required=False, min_value=0, help_text="Most models to return.")
    top = BoundedIntegerField(required=False, min_value=0, help_text="Alias of limit (llmfit serve's).")
    n = BoundedIntegerField(required=False, min_value=0, help_text="Alias of limit (llmfit serve's).")
    perfect = serializers.BooleanField(required=False, allow_null=True, default=None, help_text="Perfect fits only.")
    min_fit = serializers.CharField(required=False, help_text="perfect|good|marginal|too_tight")
    runtime = serializers.CharField(required=False, help_text="any|mlx|llamacpp")
    use_case = serializers.CharField(required=False, help_text="coding|reasoning|chat|multimodal|embedding|general")
    provider = serializers.CharField(required=False, help_text="Provider substring, any case.")
    search = serializers.CharField(required=False, help_text="Substring of name, provider, params or use case.")
    sort = serializers.CharField(required=False, help_text="score|tps|params|mem|ctx|date|use_case (default score)")
    include_too_tight = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Include models that do not fit."
    )
    max_context = BoundedIntegerField(
        required=False, min_value=1, help_text="Context (tokens) to size the KV cache for; default 8192."
    )
    force_runtime = serializers.CharField(
        required=False, help_text="mlx|llamacpp|vllm: score for this runtime instead of the automatic choice."
    )
    license = serializers.CharField(
        required=False, help_text="Comma-separated licenses (any case); models without a license never match."
    )

    def model_query(self, *, endpoint: str, what_if: listing.WhatIf, search: str | None = None) -> listing.ModelQuery:
        data = dict(self.validated_data)
        top, n = data.pop("top", None), data.pop("n", None)
        if data.get("limit") is None:
            data["limit"] = top if top is not None else n
        if search is not None:
            data["search"] = search
        return listing.model_query(endpoint=endpoint, what_if=what_if, **data)


class WhatIfQuerySerializer(serializers.Serializer):
    """Planned hardware instead of this node's, as llmfit serve takes it. Checked by `listing.what_if_parse`
    (llmfit's 400 messages); declared here for the schema."""

    ram_gb = serializers.FloatField(
        required=False, min_value=0, help_text="Total RAM in GB (90 % counted as available). Alias: ram."
    )
    ram = serializers.FloatField(required=False, min_value=0, help_text="Alias of ram_gb (llmfit serve's).")
    vram_gb = serializers.FloatField(
        required=False, min_value=0, help_text="VRAM per card of the main GPU in GB (adds one if none). Alias: memory."
    )
    memory = serializers.FloatField(required=False, min_value=0, help_text="Alias of vram_gb (llmfit serve's).")
    cpu_cores = BoundedIntegerField(required=False, min_value=1, help_text="CPU cores.")
    gpu = serializers.CharField(
        required=False,
        help_text='A known GPU replacing the main one, any spelling, e.g. "RTX 4090", "A100 80GB", "M2 Max", "GB10". '
        'A name without its memory size ("A100", "Jetson Orin") means the smallest variant; filters.gpu_note says so.',
    )


class FitQueryWithWhatIfSerializer(FitQuerySerializer, WhatIfQuerySerializer):
    """The listing's parameters and the what-if hardware (one parameter list for the schema)."""


def present_params(query_params: QueryDict) -> dict[str, str]:
    """The query's parameters as a plain dict, leaving out blank ones (`?search=&sort=`, what forms send).

    A plain dict, not the QueryDict: DRF reads an absent boolean in form-style input as False.
    """
    return {key: value for key, value in query_params.dict().items() if value.strip()}


def parsed_query(query_params: QueryDict, *, endpoint: str, search: str | None = None) -> listing.ModelQuery:
    params = present_params(query_params)
    what_if = listing.what_if_parse(params)  # first: its messages are llmfit's, not the serializer's
    serializer = FitQuerySerializer(data=params)
    serializer.is_valid(raise_exception=True)
    return serializer.model_query(endpoint=endpoint, what_if=what_if, search=search)


def parsed_what_if(query_params: QueryDict) -> listing.WhatIf:
    return listing.what_if_parse(present_params(query_params))


# --- response shapes (documentation) ---------------------------------------------------------------


class NodeGpuSerializer(serializers.Serializer):
    name = serializers.CharField()
    vram_gb = serializers.FloatField(allow_null=True, help_text="Per card; the system RAM for unified memory.")
    backend = serializers.CharField(help_text="CUDA, ROCm or Metal")
    count = serializers.IntegerField(help_text="Identical cards in this group.")
    unified_memory = serializers.BooleanField()


class NodeSystemSerializer(serializers.Serializer):
    total_ram_gb = serializers.FloatField()
    available_ram_gb = serializers.FloatField(help_text="Read now on /api/v1/system; in listings, the snapshot scored.")
    cpu_cores = serializers.IntegerField(help_text="Logical CPUs.")
    cpu_name = serializers.CharField()
    has_gpu = serializers.BooleanField()
    gpu_vram_gb = serializers.FloatField(allow_null=True, help_text="Per card of the main GPU group.")
    gpu_name = serializers.CharField(allow_null=True)
    gpu_count = serializers.IntegerField()
    unified_memory = serializers.BooleanField()
    backend = serializers.CharField(help_text="CUDA, Metal, ROCm, CPU (x86) or CPU (ARM)")
    gpus = NodeGpuSerializer(many=True)
    total_gpu_vram_gb = serializers.FloatField(allow_null=True, help_text="Every card of the main backend together.")
    cpu_arch = serializers.CharField()


class NodeSystemResponseSerializer(serializers.Serializer):
    node = NodeIdentitySerializer()
    system = NodeSystemSerializer()


class FitScoreComponentsSerializer(serializers.Serializer):
    quality = serializers.FloatField()
    speed = serializers.FloatField()
    fit = serializers.FloatField()
    context = serializers.FloatField()


class FitResultSerializer(serializers.Serializer):
    """How a model runs on a node: the spec's model fields from `fit_level` to `notes`."""

    fit_level = serializers.ChoiceField(choices=["perfect", "good", "marginal", "too_tight"])
    fit_label = serializers.CharField()
    run_mode = serializers.ChoiceField(choices=["gpu", "tensor_parallel", "moe_offload", "cpu_offload", "cpu"])
    run_mode_label = serializers.CharField()
    score = serializers.FloatField()
    score_components = FitScoreComponentsSerializer()
    estimated_tps = serializers.FloatField()
    runtime = serializers.CharField(help_text="llamacpp or mlx (Apple silicon)")
    runtime_label = serializers.CharField()
    best_quant = serializers.CharField()
    memory_required_gb = serializers.FloatField()
    memory_available_gb = serializers.FloatField()
    utilization_pct = serializers.FloatField(allow_null=True)
    notes = serializers.ListField(child=serializers.CharField())


class EstimateBasisSerializer(serializers.Serializer):
    method = serializers.CharField(help_text="gpu_bandwidth_roofline, backend_constant or cpu_constant")
    gpu_bandwidth_gbps = serializers.FloatField(allow_null=True)
    ddr_bandwidth_gbps = serializers.FloatField(allow_null=True, help_text="Only for moe_offload runs.")
    efficiency = serializers.FloatField()
    assumed_context = serializers.IntegerField()


class FitModelSerializer(FitResultSerializer):
    name = serializers.CharField()
    provider = serializers.CharField()
    parameter_count = serializers.CharField()
    params_b = serializers.FloatField()
    context_length = serializers.IntegerField()
    use_case = serializers.CharField()
    category = serializers.CharField()
    release_date = serializers.CharField(allow_null=True)
    is_moe = serializers.BooleanField()
    gguf_sources = serializers.ListField(child=serializers.DictField())
    active_params_b = serializers.FloatField(allow_null=True)
    estimation_context = serializers.IntegerField(help_text="Context (tokens) the memory estimate is for.")
    effective_context_length = serializers.IntegerField(help_text="llmfit's name for estimation_context.")
    usable_context = serializers.IntegerField(
        help_text="Tokens of f16 KV cache the memory pool holds beside the weights, up to the model's window."
    )
    moe_offloaded_gb = serializers.FloatField(allow_null=True)
    total_memory_gb = serializers.FloatField(help_text="memory_required_gb plus the experts offloaded to RAM.")
    capabilities = serializers.ListField(child=serializers.CharField(), help_text="vision, tool_use, audio, tts")
    license = serializers.CharField(allow_null=True)
    disk_size_gb = serializers.FloatField(help_text="Weights' file size at best_quant.")
    estimate_basis = EstimateBasisSerializer()


class FitFiltersSerializer(serializers.Serializer):
    limit = serializers.IntegerField(allow_null=True)
    perfect = serializers.BooleanField(allow_null=True)
    min_fit = serializers.CharField(allow_null=True)
    runtime = serializers.CharField(allow_null=True)
    use_case = serializers.CharField(allow_null=True)
    provider = serializers.CharField(allow_null=True)
    search = serializers.CharField(allow_null=True)
    sort = serializers.CharField()
    max_context = serializers.IntegerField(allow_null=True)
    include_too_tight = serializers.BooleanField()
    top_only = serializers.BooleanField()
    force_runtime = serializers.CharField(allow_null=True)
    license = serializers.CharField(allow_null=True)
    ram_gb = serializers.FloatField(allow_null=True)
    vram_gb = serializers.FloatField(allow_null=True)
    cpu_cores = serializers.IntegerField(allow_null=True)
    gpu = serializers.CharField(allow_null=True, help_text="The known GPU the gpu parameter named.")
    gpu_note = serializers.CharField(
        allow_null=True, help_text="Which variant a GPU name without its memory size was scored as."
    )


class FitListingSerializer(serializers.Serializer):
    node = NodeIdentitySerializer()
    system = NodeSystemSerializer()
    total_models = serializers.IntegerField(help_text="Models that passed the filters, before the limit.")
    returned_models = serializers.IntegerField()
    filters = FitFiltersSerializer()
    models = FitModelSerializer(many=True)


class ClusterListingSerializer(FitListingSerializer):
    status = serializers.CharField(help_text="healthy, unreachable, error or unknown (never polled)")
    last_seen_at = serializers.DateTimeField(allow_null=True)


# --- the cluster (platform) -----------------------------------------------------------------------


class NodeTopModelSerializer(serializers.Serializer):
    name = serializers.CharField()
    fit_level = serializers.CharField()
    run_mode = serializers.CharField()
    score = serializers.FloatField()
    estimated_tps = serializers.FloatField()
    best_quant = serializers.CharField()
    memory_required_gb = serializers.FloatField()
    memory_available_gb = serializers.FloatField()
    runtime = serializers.CharField()


class ClusterNodeSerializer(serializers.Serializer):
    name = serializers.CharField()
    url = serializers.CharField(allow_null=True)
    is_local = serializers.BooleanField()
    enabled = serializers.BooleanField()
    status = serializers.CharField(help_text="healthy, unreachable, error or unknown (never polled)")
    node = NodeIdentitySerializer()
    last_seen_at = serializers.DateTimeField(allow_null=True)
    last_polled_at = serializers.DateTimeField(allow_null=True)
    latency_ms = serializers.FloatField(allow_null=True)
    consecutive_failures = serializers.IntegerField()
    last_error = serializers.CharField(allow_blank=True)
    system = NodeSystemSerializer(allow_null=True)
    top_models = NodeTopModelSerializer(
        many=True, help_text="Its own /api/v1/models/top?min_fit=good at the last poll (this node: now)."
    )

    def to_representation(self, instance: Node) -> dict:
        return services.node_payload(node=instance)


class ClusterNodeCreateSerializer(serializers.Serializer):
    """Lengths and checks are the Node columns' own, so that nothing reaches the database it refuses."""

    url = serializers.URLField(
        max_length=Node._meta.get_field("url").max_length,
        help_text="Base URL of the node surface, e.g. http://10.0.0.5:8787.",
    )
    name = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=Node._meta.get_field("name").max_length,
        validators=[node_name_validate],
        help_text="Default: its own. Letters, digits, '.', '_' and '-'.",
    )
    api_key = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=Node._meta.get_field("api_key").max_length,
        validators=[header_value_validate],
        help_text="Sent as `Authorization: Bearer <key>` when polling: printable ASCII.",
    )


class PlacementQuerySerializer(WhatIfQuerySerializer):
    """The model to place; with any of ram_gb, vram_gb, cpu_cores or gpu, a planned node ("what-if", this
    node's hardware with those changes) is ranked beside the registered ones."""

    model = serializers.CharField(help_text="Catalog model name (any case), or a substring matching only one.")
    max_context = BoundedIntegerField(required=False, min_value=1)
    min_fit = serializers.CharField(required=False, help_text="perfect|good|marginal|too_tight")
    force_runtime = serializers.CharField(required=False, help_text="mlx|llamacpp|vllm")


class PlacementModelSerializer(serializers.Serializer):
    name = serializers.CharField()
    provider = serializers.CharField()
    parameter_count = serializers.CharField()
    params_b = serializers.FloatField()
    is_moe = serializers.BooleanField()
    context_length = serializers.IntegerField()
    category = serializers.CharField()


class PlacementSerializer(FitResultSerializer):
    node = serializers.CharField()
    url = serializers.CharField(allow_null=True)
    is_local = serializers.BooleanField()
    status = serializers.CharField()
    last_seen_at = serializers.DateTimeField(allow_null=True)


class UnplacedNodeSerializer(serializers.Serializer):
    node = serializers.CharField()
    url = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    reason = serializers.CharField()


class PlacementFiltersSerializer(serializers.Serializer):
    max_context = serializers.IntegerField(allow_null=True)
    min_fit = serializers.CharField(allow_null=True)
    force_runtime = serializers.CharField(allow_null=True)
    ram_gb = serializers.FloatField(allow_null=True)
    vram_gb = serializers.FloatField(allow_null=True)
    cpu_cores = serializers.IntegerField(allow_null=True)
    gpu = serializers.CharField(allow_null=True)
    gpu_note = serializers.CharField(allow_null=True)


class PlacementErrorSerializer(serializers.Serializer):
    """`{"error": "..."}`, with the catalog models an ambiguous name matches."""

    error = serializers.CharField()
    matches = serializers.ListField(child=serializers.CharField(), required=False)


class PlacementResponseSerializer(serializers.Serializer):
    model = PlacementModelSerializer()
    filters = PlacementFiltersSerializer()
    best = serializers.CharField(allow_null=True, help_text="The node to place the model on; null when none fits.")
    reason = serializers.CharField(
        allow_null=True, help_text="Why no node was chosen (null when best is set): min_fit, too tight, none available."
    )
    placements = PlacementSerializer(many=True)
    unavailable = UnplacedNodeSerializer(many=True, help_text="Nodes left out: unreachable, failing, disabled.")
