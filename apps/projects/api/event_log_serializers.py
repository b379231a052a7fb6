"""Input and output shapes of the projects spec's Event Logs API."""

from rest_framework import serializers

from apps.core.validation import BoundedIntegerField
from apps.projects.event_logs import LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX


class EventLogListQuerySerializer(serializers.Serializer):
    type = serializers.CharField(
        required=False, max_length=50, help_text='Only events of this type ("inference", "rag_processing").'
    )
    start_time = serializers.DateTimeField(
        required=False, help_text="Only events at or after this time (ISO 8601; without an offset, UTC)."
    )
    end_time = serializers.DateTimeField(
        required=False, help_text="Only events at or before this time (ISO 8601; without an offset, UTC)."
    )
    limit = BoundedIntegerField(default=LIST_LIMIT_DEFAULT, min_value=1, max_value=LIST_LIMIT_MAX)
    offset = BoundedIntegerField(default=0, min_value=0)


class EventLogSummarySerializer(serializers.Serializer):
    event_id = serializers.CharField(help_text='"evt_YYYYMMDD_HHMMSS_<type>_<6 hex>"')
    type = serializers.CharField()
    timestamp = serializers.DateTimeField(help_text="When the event started.")
    status = serializers.CharField(help_text='"running", "completed" or "failed".')
    summary = serializers.DictField(help_text="A few headline values (model, tokens, counts) and `duration_ms`.")


class EventLogListSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Events matching the filters, across all pages.")
    events = EventLogSummarySerializer(many=True)
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()


class SubEventSerializer(serializers.Serializer):
    event_name = serializers.CharField(source="name")
    timestamp = serializers.DateTimeField()
    elapsed_ms = serializers.FloatField(help_text="Milliseconds since the event started.")
    duration_ms = serializers.FloatField(help_text="Milliseconds since the previous sub-event (or the start).")
    data = serializers.DictField()


class EventLogDetailSerializer(EventLogSummarySerializer):
    duration_ms = serializers.FloatField(allow_null=True, help_text="Null while the event is still running.")
    data = serializers.DictField(help_text="The full record: request, response, tokens, counts, error.")
    sub_events = SubEventSerializer(many=True)
