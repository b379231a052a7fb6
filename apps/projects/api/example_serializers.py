"""Request and response bodies of the spec's Examples section (and LlamaFarm's import-dataset)."""

from rest_framework import serializers

from apps.projects.models import NAME_PATTERN


def _name(**kwargs: object) -> serializers.RegexField:
    return serializers.RegexField(NAME_PATTERN, max_length=100, **kwargs)


class ExampleSummarySerializer(serializers.Serializer):
    id = serializers.CharField()
    slug = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField(allow_null=True)
    primaryModel = serializers.CharField(allow_null=True)  # noqa: N815 (the spec's field name)
    tags = serializers.ListField(child=serializers.CharField())
    dataset_count = serializers.IntegerField()
    data_size_bytes = serializers.IntegerField(help_text="Bytes on disk of every dataset file.")
    data_size_human = serializers.CharField(help_text='e.g. "2.0MB" (1024-based).')
    project_size_bytes = serializers.IntegerField(help_text="Bytes on disk of the manifest and the project config.")
    project_size_human = serializers.CharField()
    updated_at = serializers.CharField(allow_null=True)


class ExampleListSerializer(serializers.Serializer):
    examples = ExampleSummarySerializer(many=True)


class ExampleDatasetSerializer(serializers.Serializer):
    example_id = serializers.CharField()
    example_title = serializers.CharField()
    name = serializers.CharField()
    database = serializers.CharField()
    strategy = serializers.CharField(help_text="The data processing strategy of the example's config.")
    files = serializers.ListField(child=serializers.CharField(), help_text="Paths relative to the example.")
    file_count = serializers.IntegerField()
    size_bytes = serializers.IntegerField()
    size_human = serializers.CharField()


class ExampleDatasetListSerializer(serializers.Serializer):
    datasets = ExampleDatasetSerializer(many=True)


class ImportProjectSerializer(serializers.Serializer):
    namespace = _name()
    name = _name()
    process = serializers.BooleanField(default=True, help_text="Start processing every dataset after the import.")


class ImportDataSerializer(serializers.Serializer):
    namespace = _name()
    project = _name()
    include_strategies = serializers.BooleanField(
        default=True, help_text="Add the example's databases and processing strategies to the project's config."
    )
    process = serializers.BooleanField(default=True)


class ImportDatasetSerializer(ImportDataSerializer):
    dataset = _name(help_text="A dataset of the example.")
    target_dataset = _name(required=False, allow_null=True, help_text="Its name in the project (default: the same).")


class ImportedSerializer(serializers.Serializer):
    project = serializers.CharField()
    namespace = serializers.CharField()
    datasets = serializers.ListField(child=serializers.CharField())
    task_ids = serializers.ListField(
        child=serializers.CharField(), help_text="One dataset run per dataset when processing."
    )


class ImportedDatasetSerializer(serializers.Serializer):
    project = serializers.CharField()
    namespace = serializers.CharField()
    dataset = serializers.CharField()
    file_count = serializers.IntegerField()
    task_id = serializers.CharField(allow_null=True)
