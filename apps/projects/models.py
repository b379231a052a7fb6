from django.core.validators import RegexValidator
from django.db import models

# LlamaFarm's namespace/project names: a letter or digit, then letters, digits, "_" or "-".
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"
name_validator = RegexValidator(NAME_PATTERN, "Use letters, digits, '_' and '-', starting with a letter or digit.")


class Project(models.Model):
    """One project: a namespace, a name and its `llamafarm.yaml`-style config.

    `config` is the truth for runtime, prompts and rag (databases, strategies); its `datasets[]` is
    rendered from the `Dataset` rows on read (`apps.projects.services.project_config_render`).
    """

    namespace = models.CharField(max_length=100, validators=[name_validator], db_index=True)
    name = models.CharField(max_length=100, validators=[name_validator])
    config = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace", "name"]
        constraints = [models.UniqueConstraint(fields=["namespace", "name"], name="projects_unique_namespace_name")]

    def __str__(self) -> str:
        return self.scope

    @property
    def scope(self) -> str:
        """The owner key the rag app files this project's vectors under: "<namespace>/<name>"."""
        return f"{self.namespace}/{self.name}"


class Dataset(models.Model):
    """A named set of files of one project, ingested into one configured database with one strategy."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=100, validators=[name_validator])
    database = models.CharField(max_length=100, help_text="A rag.databases[] name of the project's config.")
    data_processing_strategy = models.CharField(
        max_length=100, help_text="A rag.data_processing_strategies[] name of the project's config."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="projects_unique_dataset_name")]

    def __str__(self) -> str:
        return f"{self.project.scope}:{self.name}"


class StoredFile(models.Model):
    """File content stored once, addressed by its SHA-256: `<MODELYARD_HOME>/projects/files/<sha[:2]>/<sha>`."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    size_bytes = models.BigIntegerField()
    path = models.CharField(max_length=255, help_text="Relative to MODELYARD_HOME.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "stored file"

    def __str__(self) -> str:
        return self.sha256


class DatasetFile(models.Model):
    """One uploaded file in one dataset: the stored content and the name it was uploaded under."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="files")
    file = models.ForeignKey(StoredFile, on_delete=models.PROTECT, related_name="dataset_files")
    original_filename = models.CharField(max_length=255)
    mime_type = models.CharField(max_length=255, blank=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at", "id"]
        constraints = [models.UniqueConstraint(fields=["dataset", "file"], name="projects_unique_dataset_file")]
        verbose_name = "dataset file"

    def __str__(self) -> str:
        return f"{self.dataset}:{self.original_filename}"


class EventLog(models.Model):
    """One recorded operation of a project (a chat completion, a dataset processing run…).

    `event_id` is the spec's public id, "evt_YYYYMMDD_HHMMSS_<type>_<6 hex>". `summary` is the small
    dict the list endpoint shows; `data` the full record the detail endpoint shows. Written through
    `apps.projects.event_logs` (`event_start` → `EventRecorder`); pruned after
    `MODELYARD_EVENT_LOG_RETENTION_DAYS`.
    """

    STATUS_RUNNING = "running"
    STATUS_COMPLETED = "completed"
    STATUS_FAILED = "failed"
    STATUS_CHOICES = [(STATUS_RUNNING, "running"), (STATUS_COMPLETED, "completed"), (STATUS_FAILED, "failed")]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="event_logs")
    event_id = models.CharField(max_length=120, unique=True)
    type = models.CharField(max_length=50, db_index=True)
    timestamp = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=20, choices=STATUS_CHOICES, default=STATUS_RUNNING)
    summary = models.JSONField(default=dict, blank=True)
    data = models.JSONField(default=dict, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    sub_event_count = models.PositiveIntegerField(default=0, help_text="The last sub-event's ordinal.")

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [models.Index(fields=["project", "-timestamp"], name="projects_event_project_ts")]
        verbose_name = "event log"

    def __str__(self) -> str:
        return self.event_id


class SubEvent(models.Model):
    """One timed step of an event: its name, when it happened, ms since the event started, and data."""

    event = models.ForeignKey(EventLog, on_delete=models.CASCADE, related_name="sub_events")
    ordinal = models.PositiveIntegerField()
    name = models.CharField(max_length=100)
    timestamp = models.DateTimeField()
    elapsed_ms = models.FloatField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["event", "ordinal"]
        constraints = [models.UniqueConstraint(fields=["event", "ordinal"], name="projects_unique_subevent_ordinal")]
        verbose_name = "sub-event"

    def __str__(self) -> str:
        return f"{self.event_id}#{self.ordinal} {self.name}"


class ChatSession(models.Model):
    """One conversation of a project's chat (`X-Session-ID`), shared by every process.

    Its history is used while it was active within MODELYARD_CHAT_SESSION_TTL_MIN minutes; an expired
    session is deleted when it is next touched (`apps.projects.sessions`)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="chat_sessions")
    session_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    last_active_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["project", "-last_active_at"]
        constraints = [models.UniqueConstraint(fields=["project", "session_id"], name="projects_unique_chat_session")]
        verbose_name = "chat session"

    def __str__(self) -> str:
        return f"{self.project.scope}:{self.session_id}"


class ChatMessage(models.Model):
    """One message of a chat session's history, in order; the RAG context of a turn is never stored."""

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="messages")
    ordinal = models.PositiveIntegerField()
    role = models.CharField(max_length=20)
    content = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "ordinal"]
        constraints = [models.UniqueConstraint(fields=["session", "ordinal"], name="projects_unique_chat_message")]
        verbose_name = "chat message"

    def __str__(self) -> str:
        return f"{self.session_id}#{self.ordinal} {self.role}"
