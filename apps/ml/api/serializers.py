"""Request and response bodies of the spec's ML section (`/v1/ml/classifier/*`, `/v1/ml/anomaly/*`).

Field-level problems (a missing `model`, a string where a number goes) are 422 with every field's
path, like the rest of the projects API; what the spec calls a bad request (fewer than 2 labels,
an empty text, a `-latest` name in fit, a bad name, unknown backend) is checked by the services: 400.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.validation import BooleanField, ClosedSerializer, IntegerField, NumberField, StringField
from apps.ml.anomaly import BACKENDS, NORMALIZATIONS
from apps.ml.classifier import DEFAULT_BASE_MODEL
from apps.ml.features import ENCODINGS

DATA_ROWS = {
    "type": "array",
    "items": {
        "oneOf": [
            {"type": "number"},
            {"type": "array", "items": {"type": "number"}},
            {"type": "object", "additionalProperties": True},
        ]
    },
}


@extend_schema_field(DATA_ROWS)
class DataRowsField(serializers.JSONField):
    """Rows of numbers, or objects with a `schema`; checked as a list here, row by row by the encoder
    (no per-row serializer: 100,000 points validate in milliseconds)."""

    def to_internal_value(self, data: object) -> object:
        value = super().to_internal_value(data)
        if not isinstance(value, list):
            raise serializers.ValidationError("Expected a list of data points.")
        return value


class JobAcceptedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    job_id = serializers.CharField()


# --- classifiers -------------------------------------------------------------------------------------


class TrainingExampleSerializer(ClosedSerializer):
    text = StringField(allow_blank=True, trim_whitespace=False)
    label = StringField(allow_blank=True)


class ClassifierFitRequestSerializer(ClosedSerializer):
    model = StringField(help_text="Base name for the classifier (not ending in -latest).")
    base_model = StringField(default=DEFAULT_BASE_MODEL, help_text="Sentence transformer to fine-tune.")
    training_data = TrainingExampleSerializer(many=True, help_text='List of {"text", "label"}; at least 2 labels.')
    num_iterations = IntegerField(default=20, min_value=1, max_value=1000)
    batch_size = IntegerField(default=16, min_value=1, max_value=1024)
    overwrite = BooleanField(default=False, help_text="If false, version with a timestamp.")
    description = StringField(required=False, allow_blank=True, help_text="Not persisted: use save.")


class ClassifierFitResultSerializer(serializers.Serializer):
    object = serializers.CharField()
    model = serializers.CharField()
    base_model = serializers.CharField()
    samples_fitted = serializers.IntegerField()
    num_classes = serializers.IntegerField()
    labels = serializers.ListField(child=serializers.CharField())
    training_time_ms = serializers.FloatField()
    status = serializers.CharField()
    auto_saved = serializers.BooleanField()
    saved_path = serializers.CharField()
    base_name = serializers.CharField()
    versioned_name = serializers.CharField()
    overwrite = serializers.BooleanField()


class ClassifierPredictRequestSerializer(ClosedSerializer):
    model = StringField(help_text="A saved classifier, or name-latest.")
    texts = serializers.ListField(child=StringField(allow_blank=True, trim_whitespace=False))


class PredictionSerializer(serializers.Serializer):
    text = serializers.CharField()
    label = serializers.CharField()
    score = serializers.FloatField()
    all_scores = serializers.DictField(child=serializers.FloatField())


class ClassifierPredictResponseSerializer(serializers.Serializer):
    object = serializers.CharField()
    data = PredictionSerializer(many=True)
    total_count = serializers.IntegerField()
    model = serializers.CharField()


class ClassifierSaveRequestSerializer(ClosedSerializer):
    model = StringField()
    description = StringField(required=False, allow_blank=True)


class SaveResultSerializer(serializers.Serializer):
    object = serializers.CharField()
    model = serializers.CharField()
    path = serializers.CharField()
    status = serializers.CharField()
    backend = serializers.CharField(required=False)
    filename = serializers.CharField(required=False)


class LoadRequestSerializer(ClosedSerializer):
    model = StringField(help_text="A saved model, or name-latest.")


class LoadResultSerializer(serializers.Serializer):
    object = serializers.CharField()
    model = serializers.CharField()
    status = serializers.CharField()
    backend = serializers.CharField(required=False)


class ClassifierEntrySerializer(serializers.Serializer):
    name = serializers.CharField()
    labels = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField(allow_blank=True)
    created = serializers.CharField()
    base_model = serializers.CharField(allow_blank=True)
    path = serializers.CharField()


class ClassifierListSerializer(serializers.Serializer):
    object = serializers.CharField()
    data = ClassifierEntrySerializer(many=True)


class DeleteResultSerializer(serializers.Serializer):
    object = serializers.CharField()
    model = serializers.CharField()
    status = serializers.CharField()
    filename = serializers.CharField(required=False)


# --- anomaly detection -------------------------------------------------------------------------------


class AnomalyFitRequestSerializer(ClosedSerializer):
    model = StringField(default="default")
    backend = StringField(default="isolation_forest", help_text=f"One of: {', '.join(BACKENDS)}.")
    data = DataRowsField(help_text="Training data: rows of numbers, or objects described by `schema`.")
    schema = serializers.DictField(
        child=StringField(),
        required=False,
        allow_null=True,
        help_text=f"Field → encoding ({', '.join(ENCODINGS)}); required for object rows.",
    )
    contamination = NumberField(default=0.1, help_text="Expected share of anomalies, > 0 and ≤ 0.5.")
    normalization = StringField(default="standardization", help_text=f"One of: {', '.join(NORMALIZATIONS)}.")
    overwrite = BooleanField(default=False)
    description = StringField(required=False, allow_blank=True, help_text="Not persisted: use save.")


class ModelParamsSerializer(serializers.Serializer):
    backend = serializers.CharField()
    contamination = serializers.FloatField()
    threshold = serializers.FloatField()
    raw_threshold = serializers.FloatField(required=False)
    input_dim = serializers.IntegerField()
    normalization = serializers.CharField()
    features = serializers.ListField(child=serializers.CharField())


class AnomalyFitResultSerializer(serializers.Serializer):
    object = serializers.CharField()
    model = serializers.CharField()
    backend = serializers.CharField()
    samples_fitted = serializers.IntegerField()
    training_time_ms = serializers.FloatField()
    model_params = ModelParamsSerializer()
    status = serializers.CharField()
    auto_saved = serializers.BooleanField()
    saved_path = serializers.CharField()
    base_name = serializers.CharField()
    versioned_name = serializers.CharField()
    overwrite = serializers.BooleanField()


class AnomalyScoreRequestSerializer(ClosedSerializer):
    model = StringField(default="default", help_text="A saved detector, or name-latest.")
    backend = StringField(required=False, allow_null=True, help_text="When given, must be the model's.")
    data = DataRowsField()
    threshold = NumberField(required=False, allow_null=True, help_text="Default: the model's contamination threshold.")
    normalization = StringField(required=False, allow_null=True, help_text="Default: the model's (set at fit).")


class ScoredPointSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    score = serializers.FloatField()
    is_anomaly = serializers.BooleanField()
    raw_score = serializers.FloatField()


class ScoreSummarySerializer(serializers.Serializer):
    total_points = serializers.IntegerField()
    anomaly_count = serializers.IntegerField()
    anomaly_rate = serializers.FloatField()
    threshold = serializers.FloatField()


class AnomalyScoreResponseSerializer(serializers.Serializer):
    object = serializers.CharField()
    data = ScoredPointSerializer(many=True)
    model = serializers.CharField()
    backend = serializers.CharField()
    summary = ScoreSummarySerializer()


class DetectedPointSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    score = serializers.FloatField()
    raw_score = serializers.FloatField()


class DetectSummarySerializer(serializers.Serializer):
    anomalies_detected = serializers.IntegerField()
    threshold = serializers.FloatField()


class AnomalyDetectResponseSerializer(serializers.Serializer):
    object = serializers.CharField()
    data = DetectedPointSerializer(many=True)
    total_count = serializers.IntegerField()
    model = serializers.CharField()
    backend = serializers.CharField()
    summary = DetectSummarySerializer()


class AnomalySaveRequestSerializer(ClosedSerializer):
    model = StringField()
    backend = StringField(required=False, allow_null=True)
    description = StringField(required=False, allow_blank=True)


class AnomalyLoadRequestSerializer(ClosedSerializer):
    model = StringField(help_text="A saved detector, or name-latest.")
    backend = StringField(required=False, allow_null=True)


class AnomalyEntrySerializer(serializers.Serializer):
    name = serializers.CharField()
    filename = serializers.CharField()
    backend = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    created = serializers.CharField()
    size_bytes = serializers.IntegerField()
    model_params = serializers.DictField()
    path = serializers.CharField()


class AnomalyListSerializer(serializers.Serializer):
    object = serializers.CharField()
    data = AnomalyEntrySerializer(many=True)
