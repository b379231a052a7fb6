import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from apps.core import jobs, services
from apps.core.models import ApiKey, Job

PREVIEW_CHARS = 20_000


def _json_preview(value: object, *, job: Job) -> str:
    """A job's JSON for its admin page, cut at PREVIEW_CHARS (a payload of megabytes made pages of
    megabytes); the whole value stays at the job's API address."""
    if value in (None, {}, []):
        return "—"
    text = json.dumps(value, indent=1, ensure_ascii=False)
    if len(text) > PREVIEW_CHARS:
        text = f"{text[:PREVIEW_CHARS]}\n… cut at {PREVIEW_CHARS:,} of {len(text):,} characters: /api/v1/jobs/{job.id}"
    return format_html('<pre style="max-height:30em;overflow:auto">{}</pre>', text)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["short_id", "kind", "state", "progress_bar", "owner_ref", "parent", "created_at", "finished_at"]
    list_filter = ["state", "kind", "owner_surface", "cancel_requested"]
    search_fields = ["id", "kind", "owner_ref", "error"]
    date_hierarchy = "created_at"
    actions = ["cancel_jobs"]
    readonly_fields = [field.name for field in Job._meta.fields] + [
        "progress_bar",
        "log_lines",
        "params_preview",
        "result_preview",
    ]
    list_select_related = ["parent"]
    fieldsets = [
        (None, {"fields": ["id", "kind", "state", "progress_bar", "progress", "owner_surface", "owner_ref"]}),
        ("Outcome", {"fields": ["result_preview", "error", "traceback", "log_lines"]}),
        ("Run", {"fields": ["func", "params_preview", "parent", "worker", "attempts", "cancel_requested"]}),
        ("Times", {"fields": ["created_at", "started_at", "heartbeat_at", "finished_at", "updated_at"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # jobs are started by the features that need them

    @admin.display(description="id")
    def short_id(self, job: Job) -> str:
        return str(job.id)[:8]

    @admin.display(description="progress")
    def progress_bar(self, job: Job) -> str:
        if job.percent is None:
            message = job.progress.get("message", "")
            return f"{job.progress_current or ''} {message}".strip() or "—"
        return format_html('<progress value="{}" max="100" style="width:8em"></progress> {}%', job.percent, job.percent)

    @admin.display(description="log")
    def log_lines(self, job: Job) -> str:
        lines = "\n".join(f"{entry['at']}  {entry['line']}" for entry in job.log)
        return format_html('<pre style="max-height:20em;overflow:auto">{}</pre>', lines) if lines else "—"

    @admin.display(description="params")
    def params_preview(self, job: Job) -> str:
        return _json_preview(job.params, job=job)

    @admin.display(description="result")
    def result_preview(self, job: Job) -> str:
        return _json_preview(job.result, job=job)

    @admin.action(description="Cancel selected jobs")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        reports = [jobs.job_cancel(job_id=str(job.id)) for job in queryset]
        cancelled = sum(report.outcome == "cancelled" for report in reports)
        children = sum(report.pending_children_cancelled + report.running_children_at_cancel for report in reports)
        self.message_user(
            request,
            f"Asked {cancelled} job(s) and {children} child job(s) to stop; finished jobs were left alone.",
        )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "is_active", "created_at", "last_used_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "prefix"]
    actions = ["revoke_keys"]
    fields = ["name", "prefix", "is_active", "created_at", "last_used_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        return (
            ["prefix", "created_at", "last_used_at"]
            if obj is None
            else ["name", "prefix", "created_at", "last_used_at"]
        )

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        return ["name"] if obj is None else self.fields

    def save_model(self, request: HttpRequest, obj: ApiKey, form: object, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key, raw_key = services.api_key_create(name=obj.name)
        obj.pk, obj.prefix, obj.key_hash = key.pk, key.prefix, key.key_hash
        obj._state.adding = False
        messages.warning(request, f"API key {key.name!r}: {raw_key} — copy it now, it is not shown again.")

    @admin.action(description="Revoke selected keys")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            services.api_key_revoke(name=key.name)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")
        warning = services.api_keys_left_warning()
        if warning:
            self.message_user(request, warning, level=messages.WARNING)
