"""Forecasting in the admin console: the model registry with its checkpoints and variants (a
"pull" action that starts download jobs), the installed models, and fine-tune jobs with progress."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from apps.core.errors import DomainError
from apps.forecasting import services
from apps.forecasting.models import FineTune, ForecastCheckpoint, ForecastModel, InstalledForecastModel


class ForecastCheckpointInline(admin.TabularInline):
    model = ForecastCheckpoint
    extra = 0
    fields = ["version", "params", "family", "repo_id", "parameter_count", "variants"]


@admin.register(ForecastModel)
class ForecastModelAdmin(admin.ModelAdmin):
    list_display = ["name", "default_version", "default_params", "checkpoint_count", "installed"]
    search_fields = ["name", "description", "checkpoints__repo_id"]
    inlines = [ForecastCheckpointInline]
    actions = ["pull_default", "sync_registry"]

    @admin.display(description="checkpoints")
    def checkpoint_count(self, model: ForecastModel) -> int:
        return model.checkpoints.count()

    @admin.display(description="installed", boolean=True)
    def installed(self, model: ForecastModel) -> bool:
        return InstalledForecastModel.objects.filter(name=model.name).exists()

    @admin.action(description="Pull the default version (start a download job)")
    def pull_default(self, request: HttpRequest, queryset: QuerySet[ForecastModel]) -> None:
        for model in queryset:
            try:
                installed = services.model_pull(model=model.name)
            except DomainError as error:
                self.message_user(request, f"{model.name}: {error.message}", messages.ERROR)
                continue
            state = f"download job {installed.job.id}" if installed.job else "already in the store"
            self.message_user(request, f"{model.name}: {state}", messages.SUCCESS)

    @admin.action(description="Update the registry from the shipped registry.json")
    def sync_registry(self, request: HttpRequest, queryset: QuerySet[ForecastModel]) -> None:
        counts = services.forecast_registry_sync()
        self.message_user(request, f"{counts['models']} models, {counts['checkpoints']} checkpoints synced")


@admin.register(ForecastCheckpoint)
class ForecastCheckpointAdmin(admin.ModelAdmin):
    list_display = ["model", "version", "params", "family", "repo_id", "parameter_count", "variants"]
    list_filter = ["model", "family", "version"]
    search_fields = ["repo_id", "model__name", "params"]
    actions = ["pull"]

    @admin.action(description="Pull these checkpoints (start download jobs)")
    def pull(self, request: HttpRequest, queryset: QuerySet[ForecastCheckpoint]) -> None:
        for checkpoint in queryset.select_related("model"):
            try:
                services.model_pull(model=checkpoint.model.name, version=checkpoint.version, params=checkpoint.params)
            except DomainError as error:
                self.message_user(request, f"{checkpoint}: {error.message}", messages.ERROR)
                continue
            self.message_user(request, f"{checkpoint}: pull started", messages.SUCCESS)


@admin.register(InstalledForecastModel)
class InstalledForecastModelAdmin(admin.ModelAdmin):
    list_display = ["name", "family", "variant", "model_id", "base_model", "download_state", "created_at"]
    list_filter = ["family", "variant"]
    search_fields = ["name", "model_id", "base_model"]
    readonly_fields = ["job"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows come from pulls (the registry's actions, POST /api/pull) and fine-tunes

    @admin.display(description="download")
    def download_state(self, installed: InstalledForecastModel) -> str:
        return installed.job.state if installed.job else "-"

    def delete_model(self, request: HttpRequest, obj: InstalledForecastModel) -> None:
        services.installed_delete(name=obj.name)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[InstalledForecastModel]) -> None:
        for installed in queryset:
            try:
                services.installed_delete(name=installed.name)
            except DomainError as error:
                self.message_user(request, f"{installed.name}: {error.message}", messages.WARNING)


@admin.register(FineTune)
class FineTuneAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "output_model",
        "base_model",
        "mode",
        "steps",
        "overwrite",
        "state",
        "progress",
        "created_at",
    ]
    list_filter = ["mode", "base_model", "job__state"]
    search_fields = ["output_model", "data_path"]
    readonly_fields = [field.name for field in FineTune._meta.fields] + ["state", "progress", "error"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # started by POST /api/finetune

    @admin.display(description="id", ordering="pk")
    def public_id(self, finetune: FineTune) -> str:
        return finetune.public_id

    @admin.display(description="state", ordering="job__state")
    def state(self, finetune: FineTune) -> str:
        """The API's word (running, completed, failed), as GET /api/finetune/status says it."""
        return services.FINETUNE_STATUS[finetune.job.state] if finetune.job else "-"

    @admin.display(description="progress")
    def progress(self, finetune: FineTune) -> str:
        job = finetune.job
        if job is None or job.percent is None:
            return "-"
        return format_html(
            '<progress max="100" value="{}"></progress> {}/{}', job.percent, job.progress_current, job.progress_total
        )

    @admin.display(description="error")
    def error(self, finetune: FineTune) -> str:
        return finetune.job.error if finetune.job else ""
