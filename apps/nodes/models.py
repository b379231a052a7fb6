from django.core.validators import RegexValidator
from django.db import models

from apps.core.validation import header_value_validate

# A node's name is a path segment of its URLs (/api/v1/nodes/{name}): no '/', '?', '#' or spaces.
node_name_validate = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z",
    "must be letters, digits, '.', '_' and '-', starting with a letter or digit (it is part of the node's URLs)",
    code="invalid_node_name",
)


class Category(models.TextChoices):
    """The use-case category that picks a model's score weights and targets."""

    GENERAL = "general", "General"
    CODING = "coding", "Coding"
    REASONING = "reasoning", "Reasoning"
    CHAT = "chat", "Chat"
    MULTIMODAL = "multimodal", "Multimodal"
    EMBEDDING = "embedding", "Embedding"


class CatalogModel(models.Model):
    """One open-weight model the fit scoring knows: its size, the attention shape that sizes its KV cache,
    and the memory llmfit's database states for it.

    Rows come from the shipped catalog (llmfit's database plus Modelyard's corrections and own
    entries, see `apps/nodes/catalog.py`) or `manage.py catalog_sync` from a hub, and are editable in the
    admin. Fields an admin changes are listed in `admin_edited_fields`, and a later sync from a newer
    file leaves exactly those alone.
    """

    class Source(models.TextChoices):
        CATALOG = "catalog", "Catalog file"
        ADMIN = "admin", "Added in the admin"

    name = models.CharField(max_length=200, unique=True, help_text="Hugging Face repository id.")
    provider = models.CharField(max_length=100, db_index=True)
    parameter_count = models.CharField(max_length=32, help_text='Display label, e.g. "7B" or "30B-A3B".')
    params_b = models.FloatField(help_text="Total parameters, in billions.")
    active_params_b = models.FloatField(
        null=True, blank=True, help_text="Parameters used per token (mixture of experts), in billions."
    )
    is_moe = models.BooleanField(default=False, verbose_name="MoE")
    num_experts = models.PositiveIntegerField(null=True, blank=True)
    active_experts = models.PositiveIntegerField(null=True, blank=True, help_text="Experts routed per token.")
    context_length = models.PositiveIntegerField(help_text="Context window the model is published with (tokens).")
    num_layers = models.PositiveIntegerField(null=True, blank=True)
    num_kv_heads = models.PositiveIntegerField(null=True, blank=True, verbose_name="KV heads")
    head_dim = models.PositiveIntegerField(null=True, blank=True)
    kv_lora_rank = models.PositiveIntegerField(
        null=True, blank=True, help_text="Multi-head latent attention (DeepSeek V2/V3, Kimi K2): latent KV size."
    )
    qk_rope_head_dim = models.PositiveIntegerField(
        null=True, blank=True, help_text="Multi-head latent attention: rotary key part cached beside the latent."
    )
    num_attention_heads = models.PositiveIntegerField(null=True, blank=True, help_text="Query heads.")
    hidden_size = models.PositiveIntegerField(null=True, blank=True)
    vocab_size = models.PositiveIntegerField(null=True, blank=True)
    moe_intermediate_size = models.PositiveIntegerField(
        null=True, blank=True, help_text="Mixture of experts: one expert's FFN width (sizes the per-token reads)."
    )
    shared_expert_intermediate_size = models.PositiveIntegerField(null=True, blank=True)
    quantization = models.CharField(
        max_length=32, default="Q4_K_M", help_text="Default quantization the memory minimums below are for."
    )
    weight_format = models.CharField(
        max_length=16,
        default="gguf",
        help_text="gguf, awq, gptq, autoround, mlx, safetensors or onnx (AWQ/GPTQ/AutoRound are pre-quantized).",
    )
    min_ram_gb = models.FloatField(
        null=True, blank=True, help_text="GB at the default quantization; empty: 1.2 × the 4-bit weights."
    )
    recommended_ram_gb = models.FloatField(
        null=True, blank=True, help_text="GB for a perfect fit; empty: 2 × the 4-bit weights."
    )
    min_vram_gb = models.FloatField(null=True, blank=True, help_text="GB of VRAM; empty: 1.1 × the 4-bit weights.")
    license = models.CharField(
        max_length=200, blank=True, help_text="SPDX-style id, e.g. apache-2.0; several joined by commas."
    )
    capabilities = models.JSONField(default=list, blank=True, help_text='e.g. ["vision", "tool_use"]')
    architecture = models.CharField(max_length=64, blank=True, help_text="config.json model_type.")
    category = models.CharField(max_length=16, choices=Category.choices, default=Category.GENERAL, db_index=True)
    use_case = models.CharField(max_length=200, blank=True)
    release_date = models.DateField(null=True, blank=True)
    gguf_sources = models.JSONField(default=list, blank=True, help_text='[{"repo": "...", "provider": "..."}]')
    enabled = models.BooleanField(default=True, help_text="Disabled models are left out of every fit listing.")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.CATALOG)
    admin_edited_fields = models.JSONField(
        default=list, blank=True, help_text="Fields changed in the admin; catalog updates keep their values."
    )
    catalog_version = models.CharField(max_length=32, blank=True, help_text="Catalog file version last applied.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "catalog model"

    def __str__(self) -> str:
        return self.name


class Node(models.Model):
    """A machine of the cluster whose hardware, health and best-fitting models the platform tracks.

    The node this server runs on registers itself (`is_local`); others are added by the URL of their
    node surface (port 8787) and polled on a schedule. A node that cannot be reached stays listed
    with its status and the last hardware it reported.
    """

    class Status(models.TextChoices):
        UNKNOWN = "unknown", "Not polled yet"
        HEALTHY = "healthy", "Healthy"
        UNREACHABLE = "unreachable", "Unreachable"
        ERROR = "error", "Error"

    name = models.CharField(max_length=100, unique=True, validators=[node_name_validate])
    url = models.URLField(blank=True, help_text="Base URL of its node surface, e.g. http://10.0.0.5:8787.")
    api_key = models.CharField(
        max_length=200,
        blank=True,
        validators=[header_value_validate],
        help_text="Sent as a bearer token when polling: printable ASCII.",
    )
    is_local = models.BooleanField(default=False, editable=False)
    enabled = models.BooleanField(default=True, help_text="Disabled nodes are neither polled nor placed on.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNKNOWN, db_index=True)
    os = models.CharField(max_length=32, blank=True)
    system = models.JSONField(null=True, blank=True, help_text="The hardware it reported at its last good poll.")
    top_models = models.JSONField(default=list, blank=True, help_text="Its own top models at the last good poll.")
    last_seen_at = models.DateTimeField(null=True, blank=True, help_text="Last successful poll.")
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_local", "name"]
        constraints = [
            models.UniqueConstraint(fields=["is_local"], condition=models.Q(is_local=True), name="one_local_node")
        ]

    def __str__(self) -> str:
        return self.name
