"""Request and response bodies of the Projects and Datasets sections, as the spec shows them."""

from rest_framework import serializers

from apps.projects.models import NAME_PATTERN


class ProjectSerializer(serializers.Serializer):
    namespace = serializers.CharField()
    name = serializers.CharField()
    config = serializers.JSONField(help_text="The project's llamafarm.yaml config.")


class ProjectListSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    projects = ProjectSerializer(many=True)


class ProjectEnvelopeSerializer(serializers.Serializer):
    project = ProjectSerializer()


class ProjectCreateSerializer(serializers.Serializer):
    name = serializers.RegexField(NAME_PATTERN, max_length=100)
    config_template = serializers.CharField(
        required=False, allow_null=True, help_text="`server` (the default) or `rag`."
    )


class ProjectUpdateSerializer(serializers.Serializer):
    config = serializers.DictField(help_text="The whole config; legacy runtime and prompt forms are converted.")


class DatasetFileDetailSerializer(serializers.Serializer):
    hash = serializers.CharField()
    original_filename = serializers.CharField()
    size = serializers.IntegerField()
    timestamp = serializers.FloatField(help_text="Upload time, Unix seconds.")


class DatasetDetailsSerializer(serializers.Serializer):
    total_files = serializers.IntegerField()
    total_size_bytes = serializers.IntegerField()
    file_details = DatasetFileDetailSerializer(many=True)


class DatasetSerializer(serializers.Serializer):
    name = serializers.CharField()
    database = serializers.CharField()
    data_processing_strategy = serializers.CharField()
    files = serializers.ListField(child=serializers.CharField(), help_text="SHA-256 of each file.")
    details = DatasetDetailsSerializer(required=False)


class DatasetListQuerySerializer(serializers.Serializer):
    include_extra_details = serializers.BooleanField(default=True)


class DatasetListSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    datasets = DatasetSerializer(many=True)


class DatasetEnvelopeSerializer(serializers.Serializer):
    dataset = DatasetSerializer()


class DatasetCreateSerializer(serializers.Serializer):
    name = serializers.RegexField(NAME_PATTERN, max_length=100)
    data_processing_strategy = serializers.CharField(max_length=100)
    database = serializers.CharField(
        max_length=100, required=False, allow_null=True, help_text="Default: the config's default database."
    )


class StrategiesSerializer(serializers.Serializer):
    data_processing_strategies = serializers.ListField(child=serializers.CharField())
    databases = serializers.ListField(child=serializers.CharField())


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class UploadResultSerializer(serializers.Serializer):
    filename = serializers.CharField()
    hash = serializers.CharField()
    processed = serializers.BooleanField()
    skipped = serializers.BooleanField(help_text="True when the dataset holds this content already.")


class FileRemoveQuerySerializer(serializers.Serializer):
    remove_from_disk = serializers.BooleanField(default=False)


class FileRemovedSerializer(serializers.Serializer):
    file_hash = serializers.CharField()
