from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from apps.backends import encryption, services
from apps.backends.models import Backend, Pool, ProviderConfig, PullHold, RegisteredModel, RuntimeSettings
from apps.backends.providers.local import LOCAL
from apps.inference import remote


class PoolMembershipInline(admin.TabularInline):
    model = Pool.backends.through
    extra = 0
    verbose_name = verbose_name_plural = "pools"


@admin.register(Backend)
class BackendAdmin(admin.ModelAdmin):
    list_display = ["name", "type", "base_url", "model_count", "reachable", "runtime_health", "state_synced_at"]
    list_filter = ["type", "pools"]
    search_fields = ["name", "base_url"]
    readonly_fields = ["state_models", "state_error", "state_synced_at", "created_at", "updated_at"]
    inlines = [PoolMembershipInline]
    actions = ["sync_now"]

    @admin.display(description="models")
    def model_count(self, backend: Backend) -> int:
        return len(backend.state_models)

    @admin.display(description="reachable", boolean=True)
    def reachable(self, backend: Backend) -> bool | None:
        return None if backend.state_synced_at is None else not backend.state_error

    @admin.display(description="model runtime /health")
    def runtime_health(self, backend: Backend) -> str:
        """For the `local` backend, whether the model runtime answers `/health` now (asked with a
        short timeout, so a runtime that is down or hung slows the page by about a second)."""
        if backend.type != LOCAL:
            return "—"
        return remote.runtime_health(base_url=backend.base_url).summary

    @admin.action(description="Sync now")
    def sync_now(self, request: HttpRequest, queryset: QuerySet[Backend]) -> None:
        job = services.sync_request()
        self.message_user(request, f"Sync queued as job {job.id}; state updates in a few seconds.")

    def save_model(self, request: HttpRequest, obj: Backend, form: forms.Form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        services.sync_request()


@admin.register(Pool)
class PoolAdmin(admin.ModelAdmin):
    list_display = ["name", "purpose_type", "backend_count", "model_count", "created_at"]
    list_filter = ["purpose_type"]
    search_fields = ["name", "purpose_type"]
    filter_horizontal = ["backends", "models"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Pool]:
        return (
            super()
            .get_queryset(request)
            .annotate(backend_total=Count("backends", distinct=True), model_total=Count("models", distinct=True))
        )

    @admin.display(description="backends", ordering="backend_total")
    def backend_count(self, pool: Pool) -> int:
        return pool.backend_total

    @admin.display(description="models", ordering="model_total")
    def model_count(self, pool: Pool) -> int:
        return pool.model_total


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):
    list_display = ["model", "can_chat", "can_embed", "can_prompt", "can_stream", "context_length", "pool_names"]
    list_filter = ["can_chat", "can_embed", "pools"]
    search_fields = ["model"]

    @admin.display(description="pools")
    def pool_names(self, registered: RegisteredModel) -> str:
        return ", ".join(pool.name for pool in registered.pools.all()) or "—"


class ProviderConfigForm(forms.ModelForm):
    api_key = forms.CharField(widget=forms.PasswordInput, help_text="Stored encrypted; shown masked afterwards.")

    class Meta:
        model = ProviderConfig
        fields = ["type"]


@admin.register(ProviderConfig)
class ProviderConfigAdmin(admin.ModelAdmin):
    form = ProviderConfigForm
    list_display = ["type", "masked_key", "updated_at"]

    @admin.display(description="API key")
    def masked_key(self, config: ProviderConfig) -> str:
        return services.provider_config_masked(config)["APIKey"]

    def save_model(self, request: HttpRequest, obj: ProviderConfig, form: forms.Form, change: bool) -> None:
        obj.api_key_encrypted = encryption.encrypt(form.cleaned_data["api_key"])
        super().save_model(request, obj, form, change)


@admin.register(RuntimeSettings)
class RuntimeSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "default_model", "embed_model"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not RuntimeSettings.objects.exists()


@admin.register(PullHold)
class PullHoldAdmin(admin.ModelAdmin):
    """Cancelled pulls the sync leaves alone; deleting one lets the next sync queue the pull again."""

    list_display = ["model", "base_url", "created_at"]
    search_fields = ["model", "base_url"]
    readonly_fields = ["created_at"]
