"""Input and output shapes of specs/forecast-api.txt (plus the optional fields beyond it:
`past_exogenous`, `quantiles`, `season_length`, `warnings`, `/api/evaluate`, fine-tune knobs).

Named for what they describe (`ForecastSerializer`): with the request and response components split,
drf-spectacular names an input `ForecastRequest`, not `ForecastRequestRequest`."""

from rest_framework import serializers

from apps.core.validation import BoundedIntegerField

MAX_HORIZON = 10_000
MAX_STEPS = 1_000_000


class SeriesField(serializers.ListField):
    """float[][]: arrays of numbers."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(child=serializers.ListField(child=serializers.FloatField()), **kwargs)


class QuantilesField(serializers.ListField):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            child=serializers.FloatField(min_value=0.0, max_value=1.0), required=False, max_length=99, **kwargs
        )

    def to_internal_value(self, data: object) -> list[float]:
        levels = super().to_internal_value(data)
        outside = [level for level in levels if not 0.0 < level < 1.0]
        if outside:
            raise serializers.ValidationError(f"quantile levels must lie strictly between 0 and 1, got {outside[0]}")
        return levels


class ModelNameSerializer(serializers.Serializer):
    model = serializers.CharField(max_length=128, help_text="Model name: toto, timesfm, chronos2, a fine-tune, ets…")


class ForecastSerializer(ModelNameSerializer):
    input = SeriesField(min_length=1, help_text="One array per variate (the variates of one series).")
    prediction_length = BoundedIntegerField(
        min_value=1,
        max_value=MAX_HORIZON,
        default=1,
        allow_null=True,
        help_text="Steps to forecast; null or absent: 1.",
    )
    future_exogenous = SeriesField(
        required=False, help_text="Known future covariate values: one array per covariate, prediction_length long."
    )
    past_exogenous = SeriesField(
        required=False,
        help_text="Beyond the spec: each covariate's history, as long as input. Without it a model that needs it "
        "treats the history as missing or drops the covariate, and `warnings` says so.",
    )
    quantiles = QuantilesField(help_text="Beyond the spec: levels in (0, 1) to return, e.g. [0.1, 0.5, 0.9].")
    season_length = BoundedIntegerField(
        min_value=1, max_value=MAX_HORIZON, required=False, help_text="Baselines only: steps per season (inferred)."
    )

    def validate_prediction_length(self, value: int | None) -> int:
        return 1 if value is None else value


class ForecastResponseSerializer(serializers.Serializer):
    model = serializers.CharField()
    mean = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))
    inference_time_ms = serializers.IntegerField()
    quantiles = serializers.DictField(
        child=serializers.ListField(child=serializers.ListField(child=serializers.FloatField())),
        required=False,
        help_text='Only when asked: level ("0.1") → one array per variate.',
    )
    warnings = serializers.ListField(child=serializers.CharField(), required=False)


class TagSerializer(serializers.Serializer):
    name = serializers.CharField()
    architecture = serializers.CharField()
    size_bytes = serializers.IntegerField()


class TagsSerializer(serializers.Serializer):
    models = TagSerializer(many=True)


class ShowSerializer(TagSerializer):
    path = serializers.CharField()


class PullSerializer(ModelNameSerializer):
    version = serializers.CharField(max_length=32, required=False)
    params = serializers.CharField(max_length=32, required=False)
    variant = serializers.ChoiceField(choices=["f16", "f32"], required=False)


class StatusModelSerializer(serializers.Serializer):
    status = serializers.CharField()
    model = serializers.CharField()


class PullStartedSerializer(StatusModelSerializer):
    job_id = serializers.UUIDField(
        allow_null=True,
        help_text="Beyond the spec: the download job (follow /api/v1/jobs/<id>/events on the platform port); "
        "null when the store already holds the files.",
    )


class FinetuneSerializer(serializers.Serializer):
    output_model = serializers.RegexField(
        r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        help_text="Name of the saved model: letters, digits, '.', '_', '-' (no path separators), at most 64.",
        error_messages={
            "invalid": "output_model may hold only letters, digits, '.', '_' and '-' (at most 64, no '/'), "
            "starting with a letter or digit"
        },
    )
    data_path = serializers.CharField(max_length=4096, help_text="Absolute path of a CSV in an allowed folder.")
    targets = serializers.ListField(child=serializers.CharField(max_length=256), min_length=1)
    exogenous = serializers.ListField(child=serializers.CharField(max_length=256), required=False, default=list)
    steps = BoundedIntegerField(min_value=1, max_value=MAX_STEPS, default=1000)
    base_model = serializers.CharField(max_length=128, default="chronos2")
    prediction_length = BoundedIntegerField(min_value=1, max_value=MAX_HORIZON, default=24)
    learning_rate = serializers.FloatField(min_value=1e-12, max_value=1.0, default=1e-5)
    batch_size = BoundedIntegerField(min_value=1, max_value=65_536, default=32)
    mode = serializers.ChoiceField(choices=["full", "lora"], default="full")
    overwrite = serializers.BooleanField(
        default=False,
        help_text="Beyond the spec: replace a model already installed as output_model (atomically, when training "
        "ends). Without it that is a 409.",
    )


class FinetuneStartedSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    status = serializers.CharField()


class FinetuneStatusQuerySerializer(serializers.Serializer):
    id = serializers.CharField(max_length=64, help_text="ft-N")


class FinetuneStatusSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["running", "completed", "failed"])
    output_model = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    steps_done = serializers.IntegerField()
    steps_total = serializers.IntegerField()


class EvaluateSerializer(ModelNameSerializer):
    input = SeriesField(min_length=1, help_text="One series, or one array per variate.")
    prediction_length = BoundedIntegerField(min_value=1, max_value=MAX_HORIZON)
    windows = BoundedIntegerField(min_value=1, max_value=1000, default=1, help_text="Backtest windows (default 1).")
    season_length = BoundedIntegerField(
        min_value=1,
        max_value=MAX_HORIZON,
        required=False,
        help_text="Steps per season for seasonal naive, MASE's scale and a baseline model; absent: inferred once "
        "from the history before the first window (warnings says which).",
    )
    quantiles = QuantilesField()


class ScoresSerializer(serializers.Serializer):
    mase = serializers.FloatField(allow_null=True, help_text="Mean absolute scaled error (Hyndman & Koehler 2006).")
    wql = serializers.FloatField(allow_null=True, help_text="Weighted quantile loss (scaled pinball loss).")


class WindowScoresSerializer(serializers.Serializer):
    cutoff = serializers.IntegerField()
    model = ScoresSerializer()
    seasonal_naive = ScoresSerializer()


class EvaluateResponseSerializer(serializers.Serializer):
    """`apps.forecasting.evaluation.BacktestResult.as_dict()` and the model's name (`model_name`)."""

    model_name = serializers.CharField()
    prediction_length = serializers.IntegerField()
    windows = serializers.IntegerField()
    season_length = serializers.IntegerField()
    variates = serializers.IntegerField()
    series_length = serializers.IntegerField()
    quantile_levels = serializers.ListField(child=serializers.FloatField())
    model = ScoresSerializer(help_text="The model's overall scores.")
    seasonal_naive = ScoresSerializer()
    relative = ScoresSerializer(help_text="model / seasonal naive: below 1 the model is better.")
    per_window = WindowScoresSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())
