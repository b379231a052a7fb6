from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from apps.core.models import Job

DOWNLOAD_JOB_KIND = "modelstore.download"


class LocalModel(models.Model):
    """A model in the store: one folder, `MODELYARD_HOME/models/<source>/<model_id>`.

    The row mirrors the folder: `files` and `size_bytes` are what is on disk, `manifest` holds per
    file its size, mtime and content hash (the ETag the mirror serves), `metadata` what was read from
    the files (config, model card, parameter counts). Downloads, imports and rescans keep it in sync.
    """

    source = models.CharField(max_length=64, db_index=True, help_text="huggingface, local, …")
    model_id = models.CharField(max_length=255, help_text="e.g. Qwen/Qwen2.5-7B-Instruct; may contain '/'.")
    path = models.CharField(max_length=1024)
    size_bytes = models.BigIntegerField(default=0)
    files = models.JSONField(default=list, blank=True, help_text="Paths relative to the model folder.")
    manifest = models.JSONField(
        default=dict, blank=True, encoder=DjangoJSONEncoder, help_text="path → size, mtime, lfs, sha256, blob_id"
    )
    metadata = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    revision = models.CharField(max_length=64, blank=True, help_text="Commit of the source it was downloaded at.")
    downloaded_at = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["source", "model_id"]
        constraints = [models.UniqueConstraint(fields=["source", "model_id"], name="modelstore_unique_source_model")]
        verbose_name = "local model"

    def __str__(self) -> str:
        return f"{self.source}/{self.model_id}"

    @property
    def author(self) -> str:
        return self.model_id.split("/", 1)[0] if "/" in self.model_id else ""


class DownloadJobManager(models.Manager):
    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(kind=DOWNLOAD_JOB_KIND)


class DownloadJob(Job):
    """The download jobs among all `core.Job`s, for the model store's admin page."""

    objects = DownloadJobManager()

    class Meta:
        proxy = True
        ordering = ["-created_at"]
        verbose_name = "download job"
