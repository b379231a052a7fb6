import hashlib
import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class Job(models.Model):
    """One background job of any kind (download, pull, ingestion, fine-tune, fit, sync).

    The row is the truth: workers update it as they go and publish each change on the channel
    layer; every spec's task, queue and status endpoint is a view over this table.
    """

    class State(models.TextChoices):
        PENDING = "PENDING"
        STARTED = "STARTED"
        SUCCESS = "SUCCESS"
        FAILURE = "FAILURE"
        CANCELLED = "CANCELLED"

    FINISHED_STATES = (State.SUCCESS, State.FAILURE, State.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=64, db_index=True, help_text="What the job does, e.g. modelstore.download.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    func = models.CharField(max_length=255, help_text="Dotted path of the function the worker runs.")
    params = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    progress_current = models.BigIntegerField(null=True, blank=True)
    progress_total = models.BigIntegerField(null=True, blank=True)
    progress = models.JSONField(
        default=dict, blank=True, encoder=DjangoJSONEncoder, help_text="Free-form progress: bytes, speed, message…"
    )
    result = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True, help_text="Set when the job crashed; empty when it failed on purpose.")
    cancel_requested = models.BooleanField(default=False)
    owner_surface = models.CharField(max_length=32, blank=True, help_text="The surface that started the job.")
    owner_ref = models.CharField(
        max_length=255, blank=True, db_index=True, help_text="What the job belongs to, e.g. project:ns/name."
    )
    worker = models.CharField(max_length=128, blank=True, help_text="host:pid of the worker running it.")
    attempts = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the worker running it; a stale one is requeued."
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
        help_text="The group this job is one part of (a dataset run is a parent with a child per file).",
    )
    log = models.JSONField(
        default=list, blank=True, encoder=DjangoJSONEncoder, help_text="The last lines the job logged: {at, line}."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["kind", "state"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in self.FINISHED_STATES

    @property
    def percent(self) -> float | None:
        if not self.progress_total:
            return None
        return round(100.0 * (self.progress_current or 0) / self.progress_total, 1)


class ApiKey(models.Model):
    """An API key. Only its SHA-256 is stored; the key itself is shown once, at creation."""

    name = models.CharField(max_length=100, unique=True)
    prefix = models.CharField(max_length=16, help_text="The first characters, to tell keys apart.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(raw_key: str) -> str:
        # Keys are long random tokens, so a plain SHA-256 is enough (no password stretching).
        return hashlib.sha256(raw_key.encode()).hexdigest()
