"""The forecast model registry (names → versions → parameter counts → variants → hub repos), the
models installed from it (pulled or fine-tuned) and the fine-tune jobs."""

from django.db import models

from apps.core.models import Job

FINETUNE_JOB_KIND = "forecasting.finetune"


class ForecastModel(models.Model):
    """A forecast model name clients use (`chronos2`, `chronos-bolt`, `timesfm`, `toto`).

    `default_version` is what a pull without `version` takes; `default_params` maps each version
    to the parameter-count label a pull without `params` takes (the smallest). `legacy_variants`
    is the block the older `{"model", "variant"}` pull form resolves through: variant →
    `{"version", "params"}`. `variant_notes` says, per version, why a variant is missing
    (`{"2.0": "Toto 2.0 ships f32 weights only: …"}`): asking for it is a 400 with that reason.
    Seeded from `apps/forecasting/data/registry.json`; editable in the admin.
    """

    name = models.SlugField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    default_version = models.CharField(max_length=32)
    default_params = models.JSONField(default=dict, blank=True, help_text="version → parameter-count label")
    legacy_variants = models.JSONField(default=dict, blank=True, help_text='variant → {"version", "params"}')
    variant_notes = models.JSONField(default=dict, blank=True, help_text="version → why a variant is missing")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ForecastCheckpoint(models.Model):
    """One version and parameter count of a forecast model: its hub repository, the family of
    engine that runs it and the variants (`f16`, `f32`: the precision it is loaded in)."""

    model = models.ForeignKey(ForecastModel, on_delete=models.CASCADE, related_name="checkpoints")
    version = models.CharField(max_length=32)
    params = models.CharField(max_length=32, help_text="Parameter-count label: 28m, 120m, open-base, 1b…")
    family = models.CharField(
        max_length=32, help_text="Engine family: chronos2, chronos-bolt, timesfm, toto, toto2 (the architecture)."
    )
    repo_id = models.CharField(max_length=255, help_text="Hub repository, e.g. amazon/chronos-2.")
    parameter_count = models.BigIntegerField(null=True, blank=True)
    variants = models.JSONField(default=list, help_text='Precisions it can be loaded in: ["f16", "f32"].')

    class Meta:
        ordering = ["model__name", "version", "parameter_count"]
        constraints = [
            models.UniqueConstraint(fields=["model", "version", "params"], name="forecasting_unique_checkpoint")
        ]

    def __str__(self) -> str:
        return f"{self.model.name} {self.version} {self.params}"


class InstalledForecastModel(models.Model):
    """A model `/api/forecast` can use by `name`: a pulled checkpoint or a fine-tuned model.

    Its files are a model store entry (`source`, `model_id`); it is ready (listed by `/api/tags`)
    once that entry exists. A pull of another version under the same name replaces it.
    """

    name = models.CharField(max_length=128, unique=True)
    family = models.CharField(max_length=32)
    variant = models.CharField(max_length=8, default="f32")
    checkpoint = models.ForeignKey(ForecastCheckpoint, null=True, blank=True, on_delete=models.SET_NULL)
    source = models.CharField(max_length=64)
    model_id = models.CharField(max_length=255)
    base_model = models.CharField(max_length=128, blank=True, help_text="For a fine-tuned model: what it started from.")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "installed forecast model"

    def __str__(self) -> str:
        return self.name


class FineTune(models.Model):
    """A fine-tuning request (`ft-<id>` in the API) and the core job running it."""

    class Mode(models.TextChoices):
        FULL = "full"
        LORA = "lora"

    job = models.OneToOneField(Job, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    output_model = models.CharField(max_length=128)
    base_model = models.CharField(max_length=128, default="chronos2")
    data_path = models.CharField(max_length=1024)
    targets = models.JSONField(default=list)
    exogenous = models.JSONField(default=list, blank=True)
    steps = models.PositiveIntegerField(default=1000)
    prediction_length = models.PositiveIntegerField(default=24)
    learning_rate = models.FloatField(default=1e-5)
    batch_size = models.PositiveIntegerField(default=32)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.FULL)
    overwrite = models.BooleanField(
        default=False, help_text="Replace a model installed under output_model when training ends."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "fine-tune"

    def __str__(self) -> str:
        return f"{self.public_id} → {self.output_model}"

    @property
    def public_id(self) -> str:
        return f"ft-{self.pk}"
