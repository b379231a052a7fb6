"""Admin of projects: configs edited as YAML and validated as the API does; datasets with their
files; stored files. Deleting goes through the services, so chunks and bytes go too."""

import yaml
from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from apps.core.models import Job
from apps.modelstore.units import human_size_binary
from apps.projects import processing, services
from apps.projects.config import TEMPLATES, ConfigInvalid, config_to_yaml
from apps.projects.models import Dataset, DatasetFile, EventLog, Project, StoredFile, SubEvent
from apps.rag import services as rag


class ProjectForm(forms.ModelForm):
    """New project: namespace, name and a template. Existing one: its whole config as YAML."""

    template = forms.ChoiceField(
        choices=[(name, name) for name in TEMPLATES], required=False, help_text="The new project's config."
    )
    config_yaml = forms.CharField(
        label="Config (YAML)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 40, "cols": 110, "style": "font-family: monospace"}),
        help_text="The project's llamafarm.yaml; validated on save as PUT /v1/projects/{namespace}/{project} does.",
    )

    class Meta:
        model = Project
        fields = ["namespace", "name"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["config_yaml"] = config_to_yaml(services.project_config_render(project=self.instance))
            for name in ("namespace", "name"):
                self.fields[name].disabled = True
        self.checked_config: dict | None = None

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.instance.pk:
            return cleaned
        try:
            config = yaml.safe_load(cleaned.get("config_yaml") or "")
        except yaml.YAMLError as error:
            raise forms.ValidationError(f"Not valid YAML: {error}") from None
        try:
            self.checked_config = services.project_config_check(project=self.instance, config=config)
        except ConfigInvalid as error:
            raise forms.ValidationError([entry["msg"] for entry in error.message]) from None
        return cleaned


class DatasetInline(admin.TabularInline):
    model = Dataset
    fields = ["name", "database", "data_processing_strategy", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # datasets come from the config or the API


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    form = ProjectForm
    list_display = ["name", "namespace", "dataset_count", "default_model", "updated_at"]
    list_filter = ["namespace", "updated_at"]
    search_fields = ["name", "namespace"]
    date_hierarchy = "created_at"
    inlines = [DatasetInline]

    readonly_fields = ["rag_databases"]

    def get_fields(self, request: HttpRequest, obj: Project | None = None) -> list[str]:
        return ["namespace", "name", "rag_databases", "config_yaml"] if obj else ["namespace", "name", "template"]

    # --- the project's RAG databases: stats and a real health check --------------------------------

    @admin.display(description="RAG databases")
    def rag_databases(self, project: Project) -> str:
        url = reverse("admin:projects_project_rag", args=[project.pk])
        return format_html('<a href="{}">Health and statistics of each database</a>', url)

    def get_urls(self) -> list[URLPattern]:
        rag_page = path("<int:project_id>/rag/", self.admin_site.admin_view(self.rag_view), name="projects_project_rag")
        return [rag_page, *super().get_urls()]

    def rag_view(self, request: HttpRequest, project_id: int) -> HttpResponse:
        """The RAG page of a project; a missing one redirects to the admin index with a message, as
        the change view does."""
        project = Project.objects.filter(pk=project_id).first()
        if project is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, str(project_id))
        databases = [
            {
                "config": database,
                "stats": rag.database_stats(scope=project.scope, database=database),
                "health": rag.database_health(scope=project.scope, database=database),
            }
            for database in (project.config.get("rag") or {}).get("databases") or []
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": f"RAG databases of {project.scope}",
            "project": project,
            "databases": databases,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/projects/project/rag.html", context)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(dataset_total=Count("datasets"))

    @admin.display(description="datasets", ordering="dataset_total")
    def dataset_count(self, project: Project) -> int:
        return project.dataset_total

    @admin.display(description="default model")
    def default_model(self, project: Project) -> str:
        runtime = project.config.get("runtime") or {}
        models = {model.get("name"): model.get("model") for model in runtime.get("models") or []}
        return models.get(runtime.get("default_model"), "") or next(iter(models.values()), "")

    def save_model(self, request: HttpRequest, obj: Project, form: ProjectForm, change: bool) -> None:
        if change:
            services.project_config_replace(project=obj, config=form.checked_config)
            return
        # The form has checked the names, their uniqueness and the template.
        created = services.project_create(
            namespace=obj.namespace, name=obj.name, config_template_name=form.cleaned_data.get("template") or None
        )
        obj.pk, obj.config = created.pk, created.config

    def delete_model(self, request: HttpRequest, obj: Project) -> None:
        services.project_delete(project=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for project in queryset:
            services.project_delete(project=project)


class DatasetFileInline(admin.TabularInline):
    model = DatasetFile
    fields = ["original_filename", "file", "size", "mime_type", "uploaded_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # files come in by upload

    @admin.display(description="size")
    def size(self, entry: DatasetFile) -> str:
        return human_size_binary(entry.file.size_bytes)


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "database", "data_processing_strategy", "file_count", "size", "created_at"]
    list_filter = ["project__namespace", "database", "data_processing_strategy"]
    search_fields = ["name", "project__name", "project__namespace", "files__original_filename"]
    list_select_related = ["project"]
    readonly_fields = ["project", "name", "database", "data_processing_strategy", "created_at"]
    fields = readonly_fields
    inlines = [DatasetFileInline]
    actions = ["process_datasets"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # through the API or the project's config, which check database and strategy

    # --- processing with live progress -------------------------------------------------------------

    @admin.action(description="Process (ingest every file into the dataset's database)")
    def process_datasets(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        runs = [
            processing.dataset_process_start(project=dataset.project, dataset_name=dataset.name, action_type="process")
            for dataset in queryset.select_related("project")
        ]
        if len(runs) == 1:
            return HttpResponseRedirect(self._progress_url(runs[0].pk))
        links = format_html_join(
            ", ", '<a href="{}">{}</a>', ((self._progress_url(run.pk), run.params["dataset"]) for run in runs)
        )
        self.message_user(request, format_html("Processing {} dataset(s): {}", len(runs), links))
        return None

    def _progress_url(self, task_id: object) -> str:
        return reverse("admin:projects_dataset_progress", args=[task_id])

    def get_urls(self) -> list[URLPattern]:
        progress = path(
            "progress/<uuid:task_id>/", self.admin_site.admin_view(self.progress_view), name="projects_dataset_progress"
        )
        return [progress, *super().get_urls()]

    def progress_view(self, request: HttpRequest, task_id: object) -> HttpResponse:
        """The live progress of a dataset run; a run that is not there (or not a dataset run, or of a
        deleted project) redirects to the datasets with a message, as the change view does."""
        job = Job.objects.filter(pk=task_id, kind=processing.DATASET_PROCESS_KIND).first()
        project = Project.objects.filter(pk=job.params.get("project_id")).first() if job is not None else None
        if job is None or project is None:
            message = f"No dataset run with ID “{task_id}” (it may belong to a deleted project)."
            self.message_user(request, message, messages.WARNING)
            return HttpResponseRedirect(reverse("admin:projects_dataset_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Processing {project.scope}:{job.params['dataset']}",
            "job": job,
            "task": processing.task_status(job=job),
            "events_url": reverse("job-events", args=[job.pk]),
            "task_url": reverse(
                "project-task", kwargs={"namespace": project.namespace, "project": project.name, "task_id": str(job.pk)}
            ),
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/projects/dataset/progress.html", context)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(file_total=Count("files"), size_total=Sum("files__file__size_bytes", default=0))
        )

    @admin.display(description="files", ordering="file_total")
    def file_count(self, dataset: Dataset) -> int:
        return dataset.file_total

    @admin.display(description="size", ordering="size_total")
    def size(self, dataset: Dataset) -> str:
        return human_size_binary(dataset.size_total)

    def delete_model(self, request: HttpRequest, obj: Dataset) -> None:
        services.dataset_delete(dataset=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for dataset in queryset:
            services.dataset_delete(dataset=dataset)


@admin.register(StoredFile)
class StoredFileAdmin(admin.ModelAdmin):
    list_display = ["sha256", "names", "size", "dataset_count", "created_at"]
    search_fields = ["sha256", "dataset_files__original_filename"]
    date_hierarchy = "created_at"
    readonly_fields = ["sha256", "size", "path", "created_at"]
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # bytes go when no dataset holds them (remove the file from its datasets)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(dataset_total=Count("dataset_files"))
            .prefetch_related("dataset_files")
        )

    @admin.display(description="datasets", ordering="dataset_total")
    def dataset_count(self, stored: StoredFile) -> int:
        return stored.dataset_total

    @admin.display(description="uploaded as")
    def names(self, stored: StoredFile) -> str:
        return ", ".join(sorted({entry.original_filename for entry in stored.dataset_files.all()}))

    @admin.display(description="size", ordering="size_bytes")
    def size(self, stored: StoredFile) -> str:
        return human_size_binary(stored.size_bytes)


class SubEventInline(admin.TabularInline):
    model = SubEvent
    fields = ["ordinal", "name", "timestamp", "elapsed_ms", "data"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(EventLog)
class EventLogAdmin(admin.ModelAdmin):
    """Recorded operations (chat completions, dataset processing) with their timed steps; read-only:
    they are written by `apps.projects.event_logs` and pruned by the retention schedule."""

    list_display = ["event_id", "project", "type", "status", "timestamp", "duration_ms"]
    list_filter = ["type", "status", "project"]
    search_fields = ["event_id", "project__namespace", "project__name"]
    date_hierarchy = "timestamp"
    list_select_related = ["project"]
    fields = ["event_id", "project", "type", "status", "timestamp", "duration_ms", "summary", "data"]
    readonly_fields = fields
    inlines = [SubEventInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
