from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from apps.core import jobs
from apps.core.errors import Conflict, DomainError
from apps.modelstore import services, sources
from apps.modelstore.downloads import download_progress
from apps.modelstore.models import DownloadJob, LocalModel
from apps.modelstore.units import human_size_binary


class DownloadForm(forms.Form):
    model_id = forms.CharField(label="Model", help_text="e.g. Qwen/Qwen2.5-0.5B-Instruct, or its hub URL")
    source = forms.ChoiceField(choices=[])
    include_patterns = forms.CharField(
        required=False, help_text="Optional globs, separated by spaces or commas, e.g. *Q4_K_M*.gguf config.json"
    )
    force = forms.BooleanField(required=False, help_text="Fetch every file again, even those already stored")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [(name, name) for name in sources.SOURCES.names()]

    def patterns(self) -> list[str] | None:
        text = self.cleaned_data["include_patterns"].replace(",", " ")
        return text.split() or None


@admin.register(LocalModel)
class LocalModelAdmin(admin.ModelAdmin):
    change_list_template = "admin/modelstore/localmodel/change_list.html"
    list_display = ["model_id", "source", "size", "file_count", "downloaded_at", "last_used"]
    list_filter = ["source", "downloaded_at", "last_used"]
    search_fields = ["model_id", "path"]
    date_hierarchy = "downloaded_at"
    actions = ["update_from_source", "rescan_files"]
    readonly_fields = [
        "source",
        "model_id",
        "path",
        "size",
        "revision",
        "downloaded_at",
        "last_used",
        "files",
        "metadata",
    ]
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # models come in by download or `manage.py import_model`

    @admin.display(description="size", ordering="size_bytes")
    def size(self, model: LocalModel) -> str:
        return human_size_binary(model.size_bytes)

    @admin.display(description="files")
    def file_count(self, model: LocalModel) -> int:
        return len(model.files)

    # Deleting a row deletes the model's files too (the row is only a description of them).
    def delete_model(self, request: HttpRequest, obj: LocalModel) -> None:
        services.local_model_delete(source=obj.source, model_id=obj.model_id)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[LocalModel]) -> None:
        for model in queryset:
            try:
                services.local_model_delete(source=model.source, model_id=model.model_id)
            except Conflict as error:
                self.message_user(request, error.message, messages.WARNING)

    @admin.action(description="Update from the source (start a download job)")
    def update_from_source(self, request: HttpRequest, queryset: QuerySet[LocalModel]) -> HttpResponse | None:
        started = []
        for model in queryset:
            if model.source not in sources.SOURCES:
                self.message_user(request, f"{model}: {model.source} is not a download source", messages.WARNING)
                continue
            try:
                start = services.download_start(
                    model_id=model.model_id,
                    source=model.source,
                    include_patterns=model.metadata.get("include_patterns"),
                    refresh=True,
                    owner_surface="admin",
                )
            except DomainError as error:
                self.message_user(request, f"{model}: {error.message}", messages.ERROR)
                continue
            started.append(start)
        if len(started) == 1 and started[0].job is not None:
            return HttpResponseRedirect(self._progress_url(started[0].job.id))
        if started:
            self.message_user(request, f"Started {len(started)} download job(s); see Download jobs for progress.")
        return None

    @admin.action(description="Rescan files on disk")
    def rescan_files(self, request: HttpRequest, queryset: QuerySet[LocalModel]) -> None:
        for model in queryset:
            try:
                services.local_model_record(source=model.source, model_id=model.model_id)
            except DomainError:
                model.delete()  # nothing left on disk
        self.message_user(request, f"Rescanned {queryset.count()} model(s).")

    # --- "Download a model" with live progress ---------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        return [
            path("download/", self.admin_site.admin_view(self.download_view), name="modelstore_localmodel_download"),
            path(
                "download/<uuid:job_id>/",
                self.admin_site.admin_view(self.progress_view),
                name="modelstore_localmodel_progress",
            ),
            *super().get_urls(),
        ]

    def _progress_url(self, job_id: object) -> str:
        return reverse("admin:modelstore_localmodel_progress", args=[job_id])

    def download_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        form = DownloadForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                start = services.download_start(
                    model_id=form.cleaned_data["model_id"],
                    source=form.cleaned_data["source"],
                    include_patterns=form.patterns(),
                    force=form.cleaned_data["force"],
                    owner_surface="admin",
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                if start.job is None:
                    self.message_user(request, f"{start.source}/{start.model_id} is already in the store.")
                    return HttpResponseRedirect(reverse("admin:modelstore_localmodel_changelist"))
                return HttpResponseRedirect(self._progress_url(start.job.id))
        context = {
            **self.admin_site.each_context(request),
            "title": "Download a model",
            "form": form,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/modelstore/localmodel/download.html", context)

    def progress_view(self, request: HttpRequest, job_id: object) -> HttpResponse:
        job = jobs.job_get(job_id=str(job_id))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Downloading {job.owner_ref}",
            "job": job,
            "payload": jobs.job_payload(job),
            "events_url": reverse("job-events", args=[job.id]),
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/modelstore/localmodel/progress.html", context)


@admin.register(DownloadJob)
class DownloadJobAdmin(admin.ModelAdmin):
    list_display = ["short_id", "owner_ref", "state", "progress_bar", "transferred", "speed", "eta", "created_at"]
    list_filter = ["state", "owner_surface"]
    search_fields = ["id", "owner_ref", "error"]
    date_hierarchy = "created_at"
    actions = ["cancel_downloads"]
    readonly_fields = ["owner_ref", "state", "progress_bar", "progress", "params", "result", "error", "live"]
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: DownloadJob | None = None) -> bool:
        return False  # read-only: cancel with the action

    @admin.display(description="id")
    def short_id(self, job: DownloadJob) -> str:
        return str(job.id)[:8]

    @admin.display(description="progress")
    def progress_bar(self, job: DownloadJob) -> str:
        if job.percent is None:
            return download_progress(job.progress)["message"] or "—"
        return format_html('<progress value="{}" max="100" style="width:8em"></progress> {}%', job.percent, job.percent)

    @admin.display(description="bytes")
    def transferred(self, job: DownloadJob) -> str:
        if job.progress_total is None:
            return "—"
        return f"{human_size_binary(job.progress_current or 0)} / {human_size_binary(job.progress_total)}"

    @admin.display(description="speed")
    def speed(self, job: DownloadJob) -> str:
        speed = download_progress(job.progress)["speed_bps"]
        return f"{human_size_binary(int(speed))}/s" if speed and not job.is_finished else "—"

    @admin.display(description="ETA")
    def eta(self, job: DownloadJob) -> str:
        eta = download_progress(job.progress)["eta_s"]
        return f"{eta:.0f} s" if eta is not None and not job.is_finished else "—"

    @admin.display(description="live progress")
    def live(self, job: DownloadJob) -> str:
        url = reverse("admin:modelstore_localmodel_progress", args=[job.id])
        return format_html('<a href="{}">follow live</a>', url)

    @admin.action(description="Cancel selected downloads")
    def cancel_downloads(self, request: HttpRequest, queryset: QuerySet[DownloadJob]) -> None:
        reports = [jobs.job_cancel(job_id=str(job.id)) for job in queryset]
        stopped = sum(report.outcome == "cancelled" for report in reports)
        self.message_user(request, f"Asked {stopped} download(s) to stop; finished ones were left alone.")
