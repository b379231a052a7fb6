import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


def new_hook_id() -> str:
    return str(uuid.uuid4())


class RemoteHook(models.Model):
    """An outside HTTP service a task chain can call as a hook, by this hook's name.

    The id is free text (a UUID by default): the runtime spec's own examples use ids that are not
    UUIDs, and clients may choose theirs.
    """

    class Method(models.TextChoices):
        GET = "GET"
        POST = "POST"
        PUT = "PUT"
        PATCH = "PATCH"
        DELETE = "DELETE"

    id = models.CharField(primary_key=True, max_length=64, default=new_hook_id, editable=False)
    name = models.CharField(max_length=200, unique=True, help_text="What a hook task names in `hook.type`.")
    endpoint_url = models.CharField(max_length=2000, help_text="http:// or https:// URL the hook calls.")
    method = models.CharField(max_length=8, choices=Method.choices, default=Method.POST)
    timeout_ms = models.PositiveIntegerField(default=5000, help_text="A call that takes longer fails the task.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ChainRun(models.Model):
    """One execution of a task chain (POST /tasks): what went in, what came out, every step."""

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Mode(models.TextChoices):
        SYNC = "sync", "answered in the request"
        ASYNC = "async", "run as a background job"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    chain_id = models.CharField(max_length=200, blank=True, db_index=True)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING, db_index=True)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.SYNC)
    definition = models.JSONField(encoder=DjangoJSONEncoder, help_text="The chain as it was given.")
    input = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    input_type = models.CharField(max_length=32, default="string")
    output = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    output_type = models.CharField(max_length=32, blank=True)
    state = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder, help_text="One entry per task run.")
    log = models.JSONField(
        default=list, blank=True, encoder=DjangoJSONEncoder, help_text="`print` lines and alerts, in order."
    )
    error = models.TextField(blank=True)
    steps = models.PositiveIntegerField(default=0, help_text="Task runs, retries included.")
    duration_ns = models.BigIntegerField(null=True, blank=True, help_text="Wall time of the whole chain.")
    job = models.ForeignKey(
        "core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="For async runs."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.chain_id or 'chain'} {str(self.id)[:8]} ({self.status})"

    @property
    def duration_ms(self) -> float | None:
        return None if self.duration_ns is None else round(self.duration_ns / 1e6, 1)
