import uuid

from django.db import models

from apps.backends.providers import PROVIDER_TYPES

PROVIDER_TYPE_CHOICES = [(provider_type, provider_type) for provider_type in PROVIDER_TYPES]


class Backend(models.Model):
    """An inference server (Ollama, an OpenAI-compatible server, vLLM) that requests are routed to.

    The `state_*` fields hold what the last sync learned from the backend itself.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, unique=True)
    base_url = models.CharField(max_length=500, help_text="e.g. http://ollama.internal:11434")
    type = models.CharField(max_length=32, choices=PROVIDER_TYPE_CHOICES)
    state_models = models.JSONField(default=list, blank=True, help_text="Pulled models as the backend reports them.")
    state_error = models.TextField(blank=True, help_text="Why the last sync failed; empty when it worked.")
    state_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.type} {self.base_url})"

    @property
    def model_names(self) -> list[str]:
        return [pulled["model"] for pulled in self.state_models]


class RegisteredModel(models.Model):
    """A model declared to the system (the runtime spec's "Model"), routable once in a pool."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    model = models.CharField(
        max_length=300, unique=True, help_text="The name backends know it by, e.g. mistral:instruct"
    )
    can_chat = models.BooleanField(default=True)
    can_embed = models.BooleanField(default=False)
    can_prompt = models.BooleanField(default=True)
    can_stream = models.BooleanField(default=True)
    context_length = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model"]
        verbose_name = "model"

    def __str__(self) -> str:
        return self.model


class Pool(models.Model):
    """A group of backends and models: when pools exist, a model is routed only to backends
    that share a pool with it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, unique=True)
    purpose_type = models.CharField(max_length=200, db_index=True, help_text='e.g. "Internal Tasks"')
    backends = models.ManyToManyField(Backend, related_name="pools", blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Last: from here on `models` in this class body is the field, not django.db.models.
    models = models.ManyToManyField(RegisteredModel, related_name="pools", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProviderConfig(models.Model):
    """Credentials of a provider type (e.g. the OpenAI API key), encrypted at rest."""

    type = models.CharField(max_length=32, unique=True, choices=PROVIDER_TYPE_CHOICES)
    api_key_encrypted = models.TextField(help_text="Fernet token; never shown in clear.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["type"]
        verbose_name = "provider config"

    def __str__(self) -> str:
        return self.type


class RuntimeSettings(models.Model):
    """Settings an operator changes at run time (one row). A value set here wins over the
    environment only when it is not empty."""

    default_model = models.CharField(
        max_length=300, blank=True, help_text="Model for /execute; empty: MODELYARD_DEFAULT_MODEL."
    )
    embed_model = models.CharField(
        max_length=300, blank=True, help_text="Model for /embed; empty: MODELYARD_EMBED_MODEL."
    )

    class Meta:
        verbose_name = verbose_name_plural = "runtime settings"

    def __str__(self) -> str:
        return "Runtime settings"

    @classmethod
    def load(cls) -> "RuntimeSettings":
        return cls.objects.get_or_create(pk=1)[0]


class PullHold(models.Model):
    """A pull cancelled by a client: the sync does not queue it again until the model's pool
    membership changes (or the model is declared anew). `base_url` empty: on every backend."""

    model = models.CharField(max_length=300)
    base_url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["model", "base_url"]
        constraints = [models.UniqueConstraint(fields=["model", "base_url"], name="backends_unique_pull_hold")]

    def __str__(self) -> str:
        return f"{self.model} on {self.base_url or 'every backend'}"
