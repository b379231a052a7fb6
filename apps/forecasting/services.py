"""The forecasting app's public Python API: the registry, pull/tags/show/delete, forecasts,
evaluation and fine-tuning (specs/forecast-api.txt).

Model names clients use are registry names (`chronos2`, `toto`, …) once pulled, fine-tuned
`output_model`s, and the statistical baselines (`seasonal_naive`, `ets`, `theta`), which need no
download. Forecasts load engines in the calling process (the model runtime serves the forecast
surface); pulls and fine-tunes run as core jobs on a worker.
"""

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction

from apps.core import jobs
from apps.core.errors import Conflict, Invalid, NotFound
from apps.core.locks import advisory_xact_lock
from apps.core.models import Job
from apps.forecasting import registry
from apps.forecasting.baselines import BASELINE_METHODS, baseline_forecast, season_length_infer
from apps.forecasting.engines import ForecastRequest, InferenceFailed, family_unavailable_reason
from apps.forecasting.evaluation import backtest
from apps.forecasting.finetuning import FinetuneStopped, chronos2_finetune, training_data_read
from apps.forecasting.models import (
    FINETUNE_JOB_KIND,
    FineTune,
    ForecastCheckpoint,
    ForecastModel,
    InstalledForecastModel,
)
from apps.forecasting.outputs import ForecastOutput
from apps.forecasting.residency import forecast_residency
from apps.inference.residency import ModelFiles, estimate_bytes
from apps.modelstore import services as store
from apps.modelstore.models import LocalModel

logger = logging.getLogger(__name__)

BASELINE_ARCHITECTURE = "statistical"
PULL_SOURCE = "huggingface"
FINETUNE_SOURCE = "local"
FINETUNE_ID_PREFIX = "forecasting/"
FINETUNABLE_FAMILIES = ("chronos2",)
DEFAULT_VARIANTS = ("f16", "f32")  # preference order when a pull names no variant


def not_pulled_message(name: str) -> str:
    """The spec's 404 for a known model that is not downloaded, with the command that fixes it."""
    return f'model \'{name}\' not found — run: manage.py forecast_pull {name} (or POST /api/pull {{"model": "{name}"}})'


# --- the registry ----------------------------------------------------------------------------------


def forecast_registry_sync() -> dict[str, int]:
    """Create or update the registry rows from the shipped `data/registry.json` (operator rows kept)."""
    return registry.registry_apply(
        data=registry.registry_load(), model_cls=ForecastModel, checkpoint_cls=ForecastCheckpoint
    )


@dataclass(frozen=True)
class Resolved:
    """A pull request resolved against the registry: which checkpoint, in which variant."""

    model: ForecastModel
    checkpoint: ForecastCheckpoint
    variant: str


def _combinations(model: ForecastModel) -> str:
    rows = model.checkpoints.order_by("version", "parameter_count")
    return ", ".join(f"{row.version}/{row.params} ({'|'.join(row.variants)})" for row in rows)


def checkpoint_resolve(
    *, model: str, version: str | None = None, params: str | None = None, variant: str | None = None
) -> Resolved:
    """The checkpoint and variant a pull means.

    No flags: the model's `default_version`, that version's `default_params`, f16 when the
    checkpoint has it, else f32. Only `variant` (the older two-field form): the model's legacy
    variants block. Raises NotFound (unknown model or combination, listing what exists) or Invalid
    (a variant a version does not ship, with the registry's reason).
    """
    entry = ForecastModel.objects.filter(name=model).first()
    if entry is None:
        known = ", ".join([*ForecastModel.objects.values_list("name", flat=True), *BASELINE_METHODS])
        raise NotFound(f"model '{model}' is not in the registry; known models: {known}")
    if variant is not None and version is None and params is None:
        legacy = entry.legacy_variants.get(variant)
        if legacy is None:
            offered = ", ".join(sorted(entry.legacy_variants)) or "none"
            raise NotFound(f"model '{model}' has no legacy variant '{variant}'; legacy variants: {offered}")
        version, params = legacy["version"], legacy["params"]
    version = version or entry.default_version
    candidates = entry.checkpoints.filter(version=version)
    if not candidates.exists():
        raise NotFound(f"model '{model}' has no version '{version}'; available: {_combinations(entry)}")
    params = params or entry.default_params.get(version) or candidates.order_by("parameter_count").first().params
    checkpoint = candidates.filter(params=params).first()
    if checkpoint is None:
        raise NotFound(
            f"model '{model}' version {version} has no parameter count '{params}'; available: {_combinations(entry)}"
        )
    if variant is None:
        variant = next((name for name in DEFAULT_VARIANTS if name in checkpoint.variants), checkpoint.variants[0])
    if variant not in checkpoint.variants:
        reason = entry.variant_notes.get(version)
        if reason:
            raise Invalid(f"model '{model}' version {version} has no variant '{variant}': {reason}")
        raise NotFound(
            f"model '{model}' {version}/{params} has no variant '{variant}'; available: {_combinations(entry)}"
        )
    return Resolved(model=entry, checkpoint=checkpoint, variant=variant)


# --- pull, tags, show, delete ----------------------------------------------------------------------


def hub_offline_here() -> bool:
    """Does this process keep huggingface_hub offline? The library reads HF_HUB_OFFLINE once, at
    import, into `huggingface_hub.constants.HF_HUB_OFFLINE`, and refuses every hub call while it is
    set; that constant (not the environment) is what decides."""
    from huggingface_hub import constants

    return bool(constants.is_offline_mode())


def model_pull(
    *, model: str, version: str | None = None, params: str | None = None, variant: str | None = None
) -> InstalledForecastModel:
    """Start downloading a registry model into the store (a core job on a worker, resumable, with
    progress on the jobs stream), or take it at once when the store already holds it. The model is
    installed under its registry name (a pull of another version replaces the previous one).

    In a process that keeps the hub offline (`manage.py runtime`, which serves the forecast surface
    and sets HF_HUB_OFFLINE so that model loading never asks the hub), the hub is not asked here:
    the download job lists the files and checks access and the disk on the worker, and a refusal
    there ends the job failed (`/api/forecast` then says why). Elsewhere (CLI, admin) they are
    checked before the job starts.

    Raises Invalid for a statistical baseline (nothing to pull), NotFound/Invalid as
    `checkpoint_resolve`, Invalid when its family cannot run here, and the model store's errors
    (unknown repository 404, full disk 507, gated 403) where the hub is asked here.
    """
    if model in BASELINE_METHODS:
        raise Invalid(f"'{model}' is a built-in statistical baseline; nothing to pull")
    resolved = checkpoint_resolve(model=model, version=version, params=params, variant=variant)
    reason = family_unavailable_reason(resolved.checkpoint.family)
    if reason:
        raise Invalid(f"cannot pull '{model}' {resolved.checkpoint.version}/{resolved.checkpoint.params}: {reason}")
    start = store.download_start(
        model_id=resolved.checkpoint.repo_id,
        source=PULL_SOURCE,
        owner_surface="forecast",
        plan_on_worker=hub_offline_here(),
    )
    installed, _ = InstalledForecastModel.objects.update_or_create(
        name=resolved.model.name,
        defaults={
            "family": resolved.checkpoint.family,
            "variant": resolved.variant,
            "checkpoint": resolved.checkpoint,
            "source": start.source,
            "model_id": start.model_id,
            "base_model": "",
            "job": start.job,
        },
    )
    return installed


def _store_entry(installed: InstalledForecastModel) -> LocalModel | None:
    entry = LocalModel.objects.filter(source=installed.source, model_id=installed.model_id).first()
    if entry is not None and not Path(entry.path).is_dir():
        return None
    return entry


def _describe(installed: InstalledForecastModel, entry: LocalModel) -> dict[str, Any]:
    return {
        "name": installed.name,
        "architecture": installed.family,
        "size_bytes": entry.size_bytes,
        "path": entry.path,
    }


def _baseline_description(name: str) -> dict[str, Any]:
    return {"name": name, "architecture": BASELINE_ARCHITECTURE, "size_bytes": 0, "path": ""}


def installed_list() -> list[dict[str, Any]]:
    """Every model ready to forecast: pulled and fine-tuned models whose files are in the store
    (`name`, `architecture` = family, `size_bytes`, `path`), then the statistical baselines (size 0)."""
    ready = []
    for installed in InstalledForecastModel.objects.order_by("name"):
        entry = _store_entry(installed)
        if entry is not None:
            ready.append(_describe(installed, entry))
    return [*ready, *(_baseline_description(name) for name in BASELINE_METHODS)]


def _installed_ready(name: str) -> tuple[InstalledForecastModel, LocalModel]:
    """The installed model `name` with its store entry; NotFound with the pull hint otherwise."""
    installed = InstalledForecastModel.objects.filter(name=name).first()
    if installed is None:
        if ForecastModel.objects.filter(name=name).exists():
            raise NotFound(not_pulled_message(name))
        known = ", ".join(row["name"] for row in installed_list())
        raise NotFound(f"model '{name}' not found; ready models: {known}. Registry models: {_registry_names()}")
    entry = _store_entry(installed)
    if entry is None:
        job = installed.job
        if job is not None and not job.is_finished:
            raise NotFound(f"model '{name}' is still downloading (job {job.id}); try again when its pull completes")
        if job is not None and job.state != Job.State.SUCCESS:
            raise NotFound(f"model '{name}' failed to download ({job.error or job.state}) — {not_pulled_message(name)}")
        raise NotFound(not_pulled_message(name))
    return installed, entry


def _registry_names() -> str:
    return ", ".join(ForecastModel.objects.values_list("name", flat=True)) or "none"


def installed_show(*, name: str) -> dict[str, Any]:
    """`name`, `architecture`, `size_bytes`, `path` of a ready model (a baseline: statistical, 0, "")."""
    if name in BASELINE_METHODS:
        return _baseline_description(name)
    installed, entry = _installed_ready(name)
    return _describe(installed, entry)


def installed_delete(*, name: str) -> None:
    """Remove a pulled or fine-tuned model: its engine is unloaded, and its files leave the store
    unless another installed name uses the same files. Baselines cannot be deleted (Invalid)."""
    if name in BASELINE_METHODS:
        raise Invalid(f"'{name}' is a built-in statistical baseline; it has no files to delete")
    installed = InstalledForecastModel.objects.filter(name=name).first()
    if installed is None:
        raise NotFound(f"model '{name}' not found")
    entry = _store_entry(installed)
    for resident in forecast_residency().residents():
        if resident["key"].startswith(f"{installed.source}/{installed.model_id}@"):
            forecast_residency().unload(resident["key"])
    shared = (
        InstalledForecastModel.objects.filter(source=installed.source, model_id=installed.model_id)
        .exclude(pk=installed.pk)
        .exists()
    )
    if entry is not None and not shared:
        store.local_model_delete(source=entry.source, model_id=entry.model_id)
    installed.delete()


# --- forecasts -------------------------------------------------------------------------------------


@dataclass
class ForecastResult:
    """A forecast and how long the model took (wall clock, ms)."""

    output: ForecastOutput
    inference_time_ms: int


def forecast_work_check(*, variates: int, length: int, prediction_length: int, forecasts: int = 1) -> None:
    """Refuse a request whose work is past MODELYARD_FORECAST_MAX_POINTS: `forecasts` × `variates` ×
    (`length` + `prediction_length`) points (one forecast for /api/forecast, one per window for
    /api/evaluate). Invalid (400) giving the numbers; a request runs to its end once started."""
    limit = settings.MODELYARD_FORECAST_MAX_POINTS
    points = forecasts * variates * (length + prediction_length)
    if limit and points > limit:
        times = f"{forecasts} forecasts × " if forecasts > 1 else ""
        raise Invalid(
            f"this request is {points} points of work ({times}{variates} variate(s) × ({length} input + "
            f"{prediction_length} predicted)); the limit is {limit} (setting MODELYARD_FORECAST_MAX_POINTS): "
            "send fewer variates or a shorter history"
        )


def _as_matrix(rows: list[list[float]] | None, what: str) -> np.ndarray | None:
    if rows is None:
        return None
    if len({len(row) for row in rows}) > 1:
        raise Invalid(f"every array of {what} must have the same length")
    matrix = np.asarray(rows, dtype=np.float64)
    if not np.all(np.isfinite(matrix)):
        raise Invalid(f"{what} holds a value that is not a finite number")
    return matrix


def forecast_request_build(
    *,
    input: list[list[float]],  # noqa: A002  (the spec's field name)
    prediction_length: int,
    future_exogenous: list[list[float]] | None = None,
    past_exogenous: list[list[float]] | None = None,
    quantiles: list[float] | None = None,
) -> ForecastRequest:
    """Check the shapes of a forecast request and build it. Invalid when `input` is empty or ragged,
    a `future_exogenous` row is not `prediction_length` long, a `past_exogenous` row not as long as
    `input`, past and future name different numbers of covariates, or a value is not finite."""
    if not input or any(len(row) == 0 for row in input):
        raise Invalid("input must hold at least one non-empty array (one per variate)")
    if len({len(row) for row in input}) > 1:
        raise Invalid("every array of input must have the same length (one per variate of the same series)")
    forecast_work_check(variates=len(input), length=len(input[0]), prediction_length=prediction_length)
    target = _as_matrix(input, "input")
    if future_exogenous:
        bad = [i for i, row in enumerate(future_exogenous) if len(row) != prediction_length]
        if bad:
            raise Invalid(
                f"future_exogenous[{bad[0]}] has {len(future_exogenous[bad[0]])} values; each covariate needs "
                f"prediction_length = {prediction_length}"
            )
    if past_exogenous:
        if not future_exogenous:
            raise Invalid("past_exogenous is the history of the future_exogenous covariates: send both")
        if len(past_exogenous) != len(future_exogenous):
            raise Invalid(
                f"past_exogenous has {len(past_exogenous)} covariate(s) and future_exogenous {len(future_exogenous)}"
            )
        bad = [i for i, row in enumerate(past_exogenous) if len(row) != target.shape[1]]
        if bad:
            raise Invalid(
                f"past_exogenous[{bad[0]}] has {len(past_exogenous[bad[0]])} values; each covariate's history "
                f"must be as long as input ({target.shape[1]})"
            )
    future = _as_matrix(future_exogenous, "future_exogenous") if future_exogenous else None
    past = _as_matrix(past_exogenous, "past_exogenous") if past_exogenous else None
    return ForecastRequest(
        target=target,
        prediction_length=prediction_length,
        past_exogenous=past,
        future_exogenous=future,
        quantile_levels=sorted(set(quantiles or [])),
    )


def _baseline_run(*, method: str, request: ForecastRequest, season_length: int | None) -> ForecastOutput:
    try:
        output = baseline_forecast(
            method=method,
            series=list(request.target),
            prediction_length=request.prediction_length,
            season_length=season_length,
            quantile_levels=request.quantile_levels or None,
        )
    except Invalid:
        raise
    except Exception as error:  # a statsforecast failure is a 500 with its message, never a traceback
        logger.exception("the %s baseline failed", method)
        raise InferenceFailed(f"the {method} baseline failed: {type(error).__name__}: {error}") from error
    if request.covariate_count:
        output.warnings.append(
            f"{request.covariate_count} future_exogenous covariate(s) ignored: the {method} baseline is univariate"
        )
    return output


def _model_files(installed: InstalledForecastModel, entry: LocalModel) -> ModelFiles:
    parameters = installed.checkpoint.parameter_count if installed.checkpoint else None
    return ModelFiles(
        key=f"{entry.source}/{entry.model_id}@{entry.downloaded_at.timestamp():.0f}:{installed.variant}",
        name=installed.name,
        folder=Path(entry.path),
        files=tuple(entry.files),
        kind=f"{installed.family}:{installed.variant}",
        estimated_bytes=estimate_bytes(parameters=parameters, weight_bytes=entry.size_bytes),
    )


def forecast_series(*, model: str, request: ForecastRequest, season_length: int | None = None) -> ForecastResult:
    """Forecast with a baseline or a ready model (its engine loaded on first use and kept resident).

    Raises NotFound (not pulled, with the hint), Invalid (a family that cannot run here, bad input
    for the model), InferenceFailed (500, the library failed), LoadFailed (500) and the residency's
    Busy/DoesNotFit (503).
    """
    if model in BASELINE_METHODS:
        started = time.perf_counter()
        output = _baseline_run(method=model, request=request, season_length=season_length)
        _output_check(model=model, output=output, request=request)
        return ForecastResult(output=output, inference_time_ms=round((time.perf_counter() - started) * 1000))
    installed, entry = _installed_ready(model)
    reason = family_unavailable_reason(installed.family)
    if reason:
        raise Invalid(f"model '{model}' cannot run here: {reason}")
    store.local_model_touch(model=entry)
    with forecast_residency().lease(_model_files(installed, entry)) as lease:
        started = time.perf_counter()
        try:
            output = lease.engine.forecast(request)
        except (InferenceFailed, Invalid):
            raise
        except Exception as error:  # a library failure is a 500 with its message, never a traceback
            logger.exception("forecast with %s failed", model)
            raise InferenceFailed(f"inference failed with '{model}': {type(error).__name__}: {error}") from error
        elapsed = time.perf_counter() - started
    _output_check(model=model, output=output, request=request)
    return ForecastResult(output=output, inference_time_ms=round(elapsed * 1000))


def _output_check(*, model: str, output: ForecastOutput, request: ForecastRequest) -> None:
    """Every forecast passes here before anyone uses it: `mean` and each quantile of shape
    (variates, prediction_length) and finite (JSON has no NaN or infinity). InferenceFailed (500)
    naming what is wrong otherwise."""
    expected = (request.target.shape[0], request.prediction_length)
    arrays = {"mean": np.asarray(output.mean, dtype=np.float64)}
    arrays.update(
        {f"quantile {level:g}": np.asarray(values, dtype=np.float64) for level, values in output.quantiles.items()}
    )
    for what, values in arrays.items():
        if values.shape != expected:
            raise InferenceFailed(f"'{model}' returned a {what} of shape {values.shape}, expected {expected}")
        bad = np.argwhere(~np.isfinite(values))
        if bad.size:
            variate, step = (int(i) for i in bad[0])
            raise InferenceFailed(
                f"model '{model}' produced non-finite values ({len(bad)} in its {what}, the first at variate "
                f"{variate}, step {step}: {values[variate, step]}); the input's scale may be past what it handles"
            )


# --- evaluation ------------------------------------------------------------------------------------


def model_evaluate(
    *,
    model: str,
    input: list[list[float]],  # noqa: A002
    prediction_length: int,
    windows: int,
    season_length: int | None = None,
    quantiles: list[float] | None = None,
) -> dict[str, Any]:
    """Backtest `model` on a series with a rolling origin (`windows` windows of `prediction_length`
    at the end of `input`): MASE and WQL of the model and of seasonal naive, per window and overall
    (`apps.forecasting.evaluation.backtest`).

    One season length serves both sides: seasonal naive, MASE's scale and a baseline model. Without
    `season_length` it is inferred once (`season_length_infer`, as /api/forecast does) from the
    history before the first window (the most common value across variates), and `warnings` says
    which. Invalid past MODELYARD_FORECAST_MAX_POINTS (`windows` forecasts of the whole input).
    """
    request = forecast_request_build(input=input, prediction_length=prediction_length)
    forecast_work_check(
        variates=request.target.shape[0],
        length=request.target.shape[1],
        prediction_length=prediction_length,
        forecasts=windows,
    )
    if model not in BASELINE_METHODS:
        _installed_ready(model)  # a 404 with the hint before any window runs
    season_warning = None
    if season_length is None:
        season_length, season_warning = _evaluation_season(target=request.target, held_out=windows * prediction_length)

    def forecaster(series: list[np.ndarray], horizon: int, levels: list[float]) -> ForecastOutput:
        window = ForecastRequest(
            target=np.vstack(series), prediction_length=horizon, quantile_levels=sorted(set(levels or []))
        )
        return forecast_series(model=model, request=window, season_length=season_length).output

    series = request.target[0] if request.target.shape[0] == 1 else request.target
    result = backtest(
        forecaster=forecaster,
        series=series,
        prediction_length=prediction_length,
        windows=windows,
        season_length=season_length,
        quantile_levels=quantiles or None,
    )
    if season_warning:
        result.warnings.insert(0, season_warning)
    return {"model_name": model, **result.as_dict()}


def _evaluation_season(*, target: np.ndarray, held_out: int) -> tuple[int, str]:
    """The season length of a backtest when none is given, and the warning that says so: inferred
    per variate on the points before the first window (the windows are not looked at), the most
    common value (the shortest among ties)."""
    history = target[:, : max(target.shape[1] - held_out, 0)]
    found = [season_length_infer(values=row) for row in history]
    season = min(set(found), key=lambda value: (-found.count(value), value))
    shown = f"{season}" if len(set(found)) == 1 else f"{season} (per variate: {', '.join(map(str, found))})"
    return season, (
        f"season_length not given: inferred {shown} from the autocorrelation of the history before the first "
        "window; used for seasonal naive, MASE's scale and the model (when it is a baseline)"
    )


# --- fine-tuning -----------------------------------------------------------------------------------


def forecast_data_dirs() -> list[Path]:
    """The folders `data_path` may be in (MODELYARD_FORECAST_DATA_DIRS, else MODELYARD_HOME/forecast-data)."""
    configured = settings.MODELYARD_FORECAST_DATA_DIRS
    folders = configured or [Path(settings.MODELYARD_HOME) / "forecast-data"]
    return [Path(folder).resolve() for folder in folders]


def data_path_check(*, data_path: str) -> Path:
    """`data_path` resolved (links followed) when it is a CSV file inside an allowed folder; Invalid otherwise."""
    path = Path(data_path)
    if not path.is_absolute():
        raise Invalid(f"data_path must be an absolute path, got {data_path!r}")
    resolved = path.resolve()
    allowed = forecast_data_dirs()
    if not any(resolved.is_relative_to(folder) for folder in allowed):
        raise Invalid(
            f"data_path {data_path} is outside the folders fine-tuning may read "
            f"({', '.join(map(str, allowed))}; setting MODELYARD_FORECAST_DATA_DIRS)"
        )
    if not resolved.is_file():
        raise Invalid(f"data_path {data_path} is not a file")
    return resolved


def finetune_start(
    *,
    output_model: str,
    data_path: str,
    targets: list[str],
    exogenous: list[str] | None = None,
    steps: int = 1000,
    base_model: str = "chronos2",
    prediction_length: int = 24,
    learning_rate: float = 1e-5,
    batch_size: int = 32,
    mode: str = "full",
    overwrite: bool = False,
) -> FineTune:
    """Check a fine-tune request completely (base model, output name, data file and its CSV) and
    start it as a core job on a worker. Invalid (400) for a base model without a fine-tuning path,
    an output name that cannot name a stored model or is taken by a registry model or a baseline,
    a data_path outside the allowed folders or a CSV that cannot train (`training_data_read`'s
    reason); NotFound for a base not pulled. Conflict (409) while another fine-tune to the same
    `output_model` runs, and when a model of that name is installed unless `overwrite` (the new
    one then replaces it atomically when training ends: `finetune_execute`)."""
    _output_model_id(output_model)
    if output_model in BASELINE_METHODS or ForecastModel.objects.filter(name=output_model).exists():
        raise Invalid(f"output_model '{output_model}' is the name of a registry model or a baseline; choose another")
    if base_model in BASELINE_METHODS:
        raise Invalid(f"'{base_model}' is a statistical baseline: it has no fine-tuning path (only chronos2 has)")
    installed = InstalledForecastModel.objects.filter(name=base_model).first()
    family = installed.family if installed else None
    if family is None:
        entry = ForecastModel.objects.filter(name=base_model).first()
        if entry is None:
            raise NotFound(f"base_model '{base_model}' not found")
        family = entry.checkpoints.values_list("family", flat=True).first()
    if family not in FINETUNABLE_FAMILIES:
        raise Invalid(
            f"base_model '{base_model}' ({family}) has no fine-tuning path: only Chronos-2 models fine-tune here"
        )
    _installed_ready(base_model)
    path = data_path_check(data_path=data_path)
    exogenous = list(exogenous or [])
    training_data_read(path=path, targets=targets, exogenous=exogenous, prediction_length=prediction_length)
    with transaction.atomic():
        # Two requests for one name at once: the second waits here, then sees the first's job.
        advisory_xact_lock(f"forecasting.finetune:{output_model}")
        _output_model_free(output_model=output_model, overwrite=overwrite)
        finetune = FineTune.objects.create(
            job=None,
            output_model=output_model,
            base_model=base_model,
            data_path=str(path),
            targets=list(targets),
            exogenous=exogenous,
            steps=steps,
            prediction_length=prediction_length,
            learning_rate=learning_rate,
            batch_size=batch_size,
            mode=mode,
            overwrite=overwrite,
        )
        finetune.job = jobs.job_enqueue(
            kind=FINETUNE_JOB_KIND,
            func="apps.forecasting.tasks.finetune_model",
            params={"finetune_id": finetune.pk},
            owner_surface="forecast",
            owner_ref=f"finetune:{finetune.public_id}",
        )
        finetune.save(update_fields=["job"])
    return finetune


def _output_model_id(output_model: str, suffix: str = "") -> str:
    """The store id of a fine-tune's result, `forecasting/<output_model><suffix>`; Invalid when the
    name cannot be one (the hub's repository name rules, which the store keeps)."""
    try:
        return store.sources_model_id(f"{FINETUNE_ID_PREFIX}{output_model}{suffix}")
    except Invalid:
        raise Invalid(
            f"output_model {output_model!r} cannot name a stored model: letters, digits, '_', '.', '-', at most "
            "64, not starting or ending with '.' or '-', without '--' or '..', not ending in '.git'"
        ) from None


def _output_model_free(*, output_model: str, overwrite: bool, running_except: int | None = None) -> None:
    """Conflict when a fine-tune to `output_model` is running (other than `running_except`), or a
    model of that name is installed and `overwrite` is false."""
    running = (
        FineTune.objects.filter(output_model=output_model, job__state__in=[Job.State.PENDING, Job.State.STARTED])
        .exclude(pk=running_except)
        .first()
    )
    if running is not None:
        raise Conflict(
            f"fine-tune {running.public_id} is already writing '{output_model}'; wait for it to end "
            f"(GET /api/finetune/status?id={running.public_id}) or choose another output_model"
        )
    if not overwrite and InstalledForecastModel.objects.filter(name=output_model).exists():
        raise Conflict(f"a model named '{output_model}' is installed; send \"overwrite\": true to replace it")


def finetune_get(*, job_id: str) -> FineTune:
    """The fine-tune `ft-<n>`; NotFound for any other id."""
    number = job_id.removeprefix("ft-")
    finetune = None
    if job_id.startswith("ft-") and number.isdigit() and len(number) < 18:
        finetune = FineTune.objects.select_related("job").filter(pk=int(number)).first()
    if finetune is None:
        raise NotFound(f"fine-tune job '{job_id}' not found")
    return finetune


FINETUNE_STATUS = {
    Job.State.PENDING: "running",
    Job.State.STARTED: "running",
    Job.State.SUCCESS: "completed",
    Job.State.FAILURE: "failed",
    Job.State.CANCELLED: "failed",
}


def finetune_status(*, job_id: str) -> dict[str, Any]:
    """The spec's status: `job_id`, `status` (running, completed, failed), `output_model`, `error`
    (null unless failed), plus the job's progress (`steps_done`, `steps_total`)."""
    finetune = finetune_get(job_id=job_id)
    job = finetune.job
    status = FINETUNE_STATUS[job.state]
    error = None
    if status == "failed":
        error = job.error or ("cancelled" if job.state == Job.State.CANCELLED else "failed")
    return {
        "job_id": finetune.public_id,
        "status": status,
        "output_model": finetune.output_model,
        "error": error,
        "steps_done": job.progress_current or 0,
        "steps_total": job.progress_total or finetune.steps,
    }


def finetune_execute(*, finetune_id: int) -> dict[str, Any]:
    """Run a fine-tune (on a worker, inside its job): read the CSV, train the base Chronos-2 with
    `chronos2_finetune` (progress per step, stops when cancelled), move the result into the store
    as `local/forecasting/<output_model>` and install it under `output_model`."""
    finetune = FineTune.objects.get(pk=finetune_id)
    try:
        base, base_entry = _installed_ready(finetune.base_model)
        data = training_data_read(
            path=Path(finetune.data_path),
            targets=finetune.targets,
            exogenous=finetune.exogenous,
            prediction_length=finetune.prediction_length,
        )
    except (NotFound, Invalid) as error:
        raise jobs.JobFailed(error.message) from error

    def _finetune_train(**arguments: Any) -> Path:
        try:
            return chronos2_finetune(**arguments)
        except FinetuneStopped as stopped:
            raise jobs.JobCancelled() from stopped
        except Invalid as error:
            raise jobs.JobFailed(error.message) from error

    work = Path(settings.MODELYARD_HOME) / "forecast-finetunes"
    work.mkdir(parents=True, exist_ok=True)
    output_dir = Path(tempfile.mkdtemp(prefix=f"{finetune.public_id}-", dir=work))
    try:
        saved = _finetune_train(
            base_model_dir=Path(base_entry.path),
            data=data,
            prediction_length=finetune.prediction_length,
            steps=finetune.steps,
            learning_rate=finetune.learning_rate,
            batch_size=finetune.batch_size,
            mode=finetune.mode,
            output_dir=output_dir,
            on_progress=lambda done, total: jobs.progress(done, total, message=f"step {done} of {total}"),
            cancelled=jobs.cancelled,
        )
        # A free id: the plain one, or (it holds the model being replaced) one naming this fine-tune.
        model_id = _output_model_id(finetune.output_model)
        if LocalModel.objects.filter(source=FINETUNE_SOURCE, model_id=model_id).exists():
            model_id = _output_model_id(finetune.output_model, f".{finetune.public_id}")
        entry = store.local_model_import(path=Path(saved), source=FINETUNE_SOURCE, model_id=model_id, move=True)
    finally:
        shutil.rmtree(output_dir, ignore_errors=True)
    try:
        replaced = _finetune_install(finetune=finetune, base=base, entry=entry)
    except Conflict as error:
        store.local_model_delete(source=entry.source, model_id=entry.model_id)
        raise jobs.JobFailed(error.message) from error
    if replaced is not None:
        _installed_files_release(source=replaced[0], model_id=replaced[1])
    return {"output_model": finetune.output_model, "path": entry.path, "size_bytes": entry.size_bytes}


def _finetune_install(*, finetune: FineTune, base: InstalledForecastModel, entry: LocalModel) -> tuple[str, str] | None:
    """Point `output_model` at the new files in one transaction (a forecast sees the old model or
    the new one, never none); the (source, model_id) it pointed at before, or None. Conflict when a
    model of that name appeared meanwhile and the fine-tune may not overwrite it."""
    with transaction.atomic():
        advisory_xact_lock(f"forecasting.finetune:{finetune.output_model}")
        current = InstalledForecastModel.objects.select_for_update().filter(name=finetune.output_model).first()
        if current is not None and not finetune.overwrite:
            raise Conflict(f"a model named '{finetune.output_model}' was installed meanwhile; not overwritten")
        previous = (current.source, current.model_id) if current is not None else None
        InstalledForecastModel.objects.update_or_create(
            name=finetune.output_model,
            defaults={
                "family": base.family,
                "variant": _saved_variant(Path(entry.path)),
                "checkpoint": base.checkpoint,
                "source": entry.source,
                "model_id": entry.model_id,
                "base_model": finetune.base_model,
                "job": finetune.job,
            },
        )
    if previous == (entry.source, entry.model_id):
        return None
    return previous


def _installed_files_release(*, source: str, model_id: str) -> None:
    """Unload the engines of a store entry no installed model uses any more and delete its files."""
    if InstalledForecastModel.objects.filter(source=source, model_id=model_id).exists():
        return
    for resident in forecast_residency().residents():
        if resident["key"].startswith(f"{source}/{model_id}@"):
            forecast_residency().unload(resident["key"])
    if LocalModel.objects.filter(source=source, model_id=model_id).exists():
        store.local_model_delete(source=source, model_id=model_id)


SAVED_DTYPE_VARIANTS = {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}


def _saved_variant(folder: Path) -> str:
    """The precision a saved model's weights are in, from its config's `torch_dtype` (or `dtype`):
    f32, f16 or bf16; f32 when the config does not say (transformers saves float32 by default)."""
    import json

    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return "f32"
    dtype = config.get("torch_dtype") or config.get("dtype") or "float32"
    return SAVED_DTYPE_VARIANTS.get(str(dtype), "f32")
