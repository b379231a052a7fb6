"""Input and output shapes of the Datasets actions, RAG and Tasks sections of the projects spec."""

from rest_framework import serializers

from apps.core.validation import BoundedIntegerField
from apps.projects.processing import ACTION_TYPES

# --- dataset actions, tasks ----------------------------------------------------------------------


class DatasetActionSerializer(serializers.Serializer):
    action_type = serializers.ChoiceField(
        choices=ACTION_TYPES,
        help_text='"process" (alias "ingest"): ingest every file of the dataset into its database.',
        error_messages={"invalid_choice": f'"{{input}}" is not a valid action_type; valid: {", ".join(ACTION_TYPES)}'},
    )


class DatasetActionResponseSerializer(serializers.Serializer):
    message = serializers.CharField(help_text='"Accepted"')
    task_uri = serializers.CharField(help_text="GET it for the task's status.")
    task_id = serializers.CharField()


class FileDetailSerializer(serializers.Serializer):
    hash = serializers.CharField()
    filename = serializers.CharField()
    status = serializers.CharField(
        help_text="processed | skipped | failed | pending | cancelled | reverted (processed, then removed by a cancel)"
    )
    reason = serializers.CharField(allow_null=True, help_text='Why it was skipped or failed ("duplicate", ...).')
    parser = serializers.CharField(allow_null=True)
    chunks = serializers.IntegerField(allow_null=True)


class TaskFileSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    task_id = serializers.CharField(help_text="The file's own job; empty until it is queued.")
    state = serializers.CharField(
        help_text="pending | processing | success | failure | cancelled | reverted (processed, removed by a cancel)"
    )
    file_hash = serializers.CharField()
    filename = serializers.CharField()
    message = serializers.CharField(allow_null=True)
    error = serializers.CharField(allow_null=True)


class TaskMetaSerializer(serializers.Serializer):
    current = serializers.IntegerField(help_text="Files finished.")
    total = serializers.IntegerField(help_text="Files in the run.")
    progress = serializers.IntegerField(help_text="Percent.")
    message = serializers.CharField()
    files = TaskFileSerializer(many=True)


class TaskResultSerializer(serializers.Serializer):
    message = serializers.CharField()
    processed_files = serializers.IntegerField()
    skipped_files = serializers.IntegerField()
    failed_files = serializers.IntegerField()
    strategy = serializers.CharField(allow_null=True)
    database = serializers.CharField(allow_null=True)
    details = FileDetailSerializer(many=True)


class TaskSerializer(serializers.Serializer):
    task_id = serializers.CharField()
    state = serializers.CharField(
        help_text="PENDING, STARTED, SUCCESS, FAILURE, RETRY (queued again: its worker died), REVOKED (cancelled)"
    )
    cancelled = serializers.BooleanField()
    meta = TaskMetaSerializer(allow_null=True)
    result = TaskResultSerializer(allow_null=True, help_text="Set once the task has ended.")
    error = serializers.CharField(allow_null=True, help_text='"k of N files failed" when a file failed.')
    traceback = serializers.CharField(allow_null=True, help_text="Only when the server runs with debugging on.")


class CleanupErrorSerializer(serializers.Serializer):
    file_hash = serializers.CharField()
    error = serializers.CharField()


class TaskCancelSerializer(serializers.Serializer):
    message = serializers.CharField()
    task_id = serializers.CharField()
    cancelled = serializers.BooleanField()
    pending_tasks_cancelled = serializers.IntegerField()
    running_tasks_at_cancel = serializers.IntegerField()
    files_reverted = serializers.IntegerField()
    files_failed_to_revert = serializers.IntegerField()
    errors = CleanupErrorSerializer(many=True, allow_null=True)
    already_completed = serializers.BooleanField()
    already_cancelled = serializers.BooleanField()


class FileCleanupSerializer(serializers.Serializer):
    message = serializers.CharField()
    deleted_count = serializers.IntegerField(help_text="Chunks removed.")
    file_hash = serializers.CharField()
    errors = serializers.ListField(child=serializers.CharField(), allow_null=True)


# --- RAG query ----------------------------------------------------------------------------------


class RagQuerySerializer(serializers.Serializer):
    query = serializers.CharField(max_length=10000)
    database = serializers.CharField(required=False, max_length=100, help_text="Default: the config's default.")
    top_k = BoundedIntegerField(required=False, min_value=1, max_value=1000)
    score_threshold = serializers.FloatField(required=False, allow_null=True)
    retrieval_strategy = serializers.CharField(required=False, max_length=100)
    metadata_filters = serializers.DictField(required=False, allow_null=True)
    distance_metric = serializers.CharField(required=False, max_length=20)
    hybrid_alpha = serializers.FloatField(required=False, min_value=0.0, max_value=1.0, allow_null=True)
    rerank_model = serializers.CharField(required=False, max_length=500, allow_null=True)
    query_expansion = serializers.BooleanField(required=False)
    max_tokens = BoundedIntegerField(required=False, min_value=1, allow_null=True)


class RagResultSerializer(serializers.Serializer):
    content = serializers.CharField()
    score = serializers.FloatField()
    metadata = serializers.DictField()
    chunk_id = serializers.CharField()
    document_id = serializers.CharField()


class RagQueryResponseSerializer(serializers.Serializer):
    query = serializers.CharField()
    results = RagResultSerializer(many=True)
    total_results = serializers.IntegerField()
    processing_time_ms = serializers.FloatField()
    retrieval_strategy_used = serializers.CharField()
    database_used = serializers.CharField()


# --- RAG databases ------------------------------------------------------------------------------


class EmbeddingStrategySerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    type = serializers.CharField(max_length=100)
    config = serializers.DictField(required=False)
    condition = serializers.CharField(required=False, allow_null=True)
    priority = BoundedIntegerField(required=False)


class RetrievalStrategySerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    type = serializers.CharField(max_length=100)
    config = serializers.DictField(required=False)
    default = serializers.BooleanField(required=False)


class DatabaseCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    type = serializers.CharField(max_length=100)
    config = serializers.DictField(required=False)
    embedding_strategies = EmbeddingStrategySerializer(many=True, required=False)
    retrieval_strategies = RetrievalStrategySerializer(many=True, required=False)
    default_embedding_strategy = serializers.CharField(required=False, max_length=100)
    default_retrieval_strategy = serializers.CharField(required=False, max_length=100)


class DatabaseUpdateSerializer(DatabaseCreateSerializer):
    """Every field optional; `name` and `type` may only repeat the database's own (immutable)."""

    name = serializers.CharField(max_length=50, required=False)
    type = serializers.CharField(max_length=100, required=False)


class EmbeddingStrategySummarySerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    priority = serializers.IntegerField()
    is_default = serializers.BooleanField()


class RetrievalStrategySummarySerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    is_default = serializers.BooleanField()


class DatabaseSummarySerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    is_default = serializers.BooleanField()
    embedding_strategies = EmbeddingStrategySummarySerializer(many=True)
    retrieval_strategies = RetrievalStrategySummarySerializer(many=True)


class DatabaseListSerializer(serializers.Serializer):
    databases = DatabaseSummarySerializer(many=True)
    default_database = serializers.CharField(allow_null=True)


class DatabaseCreatedSerializer(serializers.Serializer):
    database = DatabaseSummarySerializer()


class EmbeddingStrategyDetailSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    config = serializers.DictField()
    priority = serializers.IntegerField()


class RetrievalStrategyDetailSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    config = serializers.DictField()
    default = serializers.BooleanField()


class DatabaseDetailSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    config = serializers.DictField()
    embedding_strategies = EmbeddingStrategyDetailSerializer(many=True)
    retrieval_strategies = RetrievalStrategyDetailSerializer(many=True)
    default_embedding_strategy = serializers.CharField(allow_null=True)
    default_retrieval_strategy = serializers.CharField(allow_null=True)
    dependent_datasets = serializers.ListField(child=serializers.CharField())


class DatabaseDeleteQuerySerializer(serializers.Serializer):
    delete_collection = serializers.BooleanField(
        default=True, help_text="Also delete the stored vectors (false: only remove it from the config)."
    )


class DatabaseDeletedSerializer(serializers.Serializer):
    message = serializers.CharField()
    database = DatabaseDetailSerializer()
    collection_deleted = serializers.BooleanField()


class DocumentsQuerySerializer(serializers.Serializer):
    limit = BoundedIntegerField(default=50, min_value=1, max_value=1000)


class DocumentSerializer(serializers.Serializer):
    id = serializers.CharField()
    filename = serializers.CharField()
    chunk_count = serializers.IntegerField()
    size_bytes = serializers.IntegerField()
    parser_used = serializers.CharField(allow_null=True)
    date_ingested = serializers.DateTimeField(allow_null=True)
    metadata = serializers.DictField(allow_null=True)


class DatabaseQuerySerializer(serializers.Serializer):
    database = serializers.CharField(required=False, max_length=100, help_text="Default: the config's default.")


class ComponentHealthSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=["healthy", "degraded", "unhealthy"])
    latency = serializers.FloatField(allow_null=True, help_text="Milliseconds.")
    message = serializers.CharField(allow_null=True)


class RagHealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["healthy", "degraded", "unhealthy"])
    database = serializers.CharField()
    components = serializers.DictField(child=ComponentHealthSerializer())
    last_check = serializers.DateTimeField()
    issues = serializers.ListField(child=serializers.CharField(), allow_null=True)


class RagStatsSerializer(serializers.Serializer):
    database = serializers.CharField()
    vector_count = serializers.IntegerField()
    storage_bytes = serializers.IntegerField()
    storage_human = serializers.CharField()
    embedding_dimension = serializers.IntegerField(allow_null=True)
    collection_name = serializers.CharField(allow_null=True)
    last_updated = serializers.DateTimeField(allow_null=True)
