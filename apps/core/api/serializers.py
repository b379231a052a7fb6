from rest_framework import serializers

from apps.core import jobs
from apps.core.models import Job
from apps.core.schema import (  # noqa: F401  (re-exported)
    DetailErrorSerializer,
    DiskUsageSerializer,
    ErrorSerializer,
    NodeIdentitySerializer,
)


class JobProgressSerializer(serializers.Serializer):
    current = serializers.IntegerField(allow_null=True, help_text="Steps or bytes done.")
    total = serializers.IntegerField(allow_null=True, help_text="Steps or bytes in all, when known.")
    percent = serializers.FloatField(allow_null=True)
    message = serializers.CharField(required=False, help_text="Other free-form keys (bytes, speed, eta…) may follow.")


class JobLogLineSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    line = serializers.CharField()


class JobSerializer(serializers.Serializer):
    """A job as the API and its event stream show it (one representation: `jobs.job_payload`)."""

    id = serializers.UUIDField()
    kind = serializers.CharField()
    state = serializers.ChoiceField(choices=Job.State.choices)
    progress = JobProgressSerializer()
    result = serializers.JSONField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    traceback = serializers.CharField(allow_blank=True)
    cancel_requested = serializers.BooleanField()
    owner_surface = serializers.CharField(allow_blank=True)
    owner_ref = serializers.CharField(allow_blank=True)
    parent_id = serializers.UUIDField(allow_null=True, help_text="The group job this one is part of.")
    attempts = serializers.IntegerField()
    log = JobLogLineSerializer(many=True, help_text="The job's last lines (at most 200; events carry the last 20).")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    heartbeat_at = serializers.DateTimeField(allow_null=True, help_text="Last sign of life of its worker.")
    finished_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()

    def to_representation(self, instance: Job) -> dict:
        return jobs.job_payload(instance)


class JobListItemSerializer(JobSerializer):
    """A job in the list: its `result` with long lists replaced by their sizes (`{"items": n,
    "trimmed": true}`), so that one 100,000-point score does not make the list megabytes; the whole
    result is at `/api/v1/jobs/{id}`."""

    def to_representation(self, instance: Job) -> dict:
        payload = super().to_representation(instance)
        payload["result"] = jobs.payload_trimmed(payload["result"], max_items=jobs.PAYLOAD_KEPT_ITEMS)
        return payload


class JobCancelSerializer(JobSerializer):
    """The answer to a cancel: the job as it is now, and what the cancel did (`jobs.CancelReport`)."""

    outcome = serializers.ChoiceField(
        choices=["cancelled"], help_text="Always `cancelled` here: a job that had finished answers 409."
    )
    pending_children_cancelled = serializers.IntegerField(help_text="Child jobs that had not started, now cancelled.")
    running_children_at_cancel = serializers.IntegerField(
        help_text="Child jobs that were running, asked to stop at their next check."
    )

    def to_representation(self, instance: jobs.CancelReport) -> dict:
        return {
            **jobs.job_payload(instance.job),
            "outcome": instance.outcome,
            "pending_children_cancelled": instance.pending_children_cancelled,
            "running_children_at_cancel": instance.running_children_at_cancel,
        }


class JobFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=Job.State.choices, required=False)
    kind = serializers.CharField(required=False)
    owner_ref = serializers.CharField(required=False)
    parent_id = serializers.UUIDField(required=False, help_text="Only the child jobs of this job.")


class PlatformHealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["healthy", "degraded", "unhealthy"])
    version = serializers.CharField()
    node = NodeIdentitySerializer()
    services = serializers.DictField(child=serializers.CharField(), help_text="api, database, workers, channel_layer")


class LivenessSerializer(serializers.Serializer):
    status = serializers.CharField()


class NodeHealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    node = NodeIdentitySerializer()


class VersionHealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    version = serializers.CharField()


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()


class InfoSerializer(serializers.Serializer):
    version = serializers.CharField()
    data_directory = serializers.CharField()


class DiskSerializer(serializers.Serializer):
    cache = DiskUsageSerializer(help_text="The disk of the model store.")
    system = DiskUsageSerializer(help_text="The disk of the system root.")


class JobFinishedErrorSerializer(DetailErrorSerializer):
    """409 of a cancel: the job had already finished, in `state`."""

    state = serializers.CharField()
