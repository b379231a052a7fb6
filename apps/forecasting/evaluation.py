"""Backtests: how good is a forecaster on a series, and is it better than seasonal naive?

Rolling origin over the last `windows` non-overlapping windows of `prediction_length` steps (Tashman
2000, "Out-of-sample tests of forecasting accuracy"; the evaluation protocol of Chronos, Ansari et al.
2024, §5): window w (0 … W−1) forecasts the H steps after cutoff c_w = T − (W − w)·H from all the
points before it. The forecaster and seasonal naive see the same contexts; their scores and the
ratio between them say whether the model (or a fine-tune) helps.

Metrics
- MASE, mean absolute scaled error (Hyndman & Koehler 2006, "Another look at measures of forecast
  accuracy", IJF 22(4), eq. 5): for one variate and window,
  MASE = mean_t |y_t − ŷ_t| / scale, scale = 1/(c − m) · Σ_{t=m}^{c−1} |y_t − y_{t−m}|,
  the in-sample MAE of the seasonal naive forecast (season m) on that window's training part (the c
  points before the cutoff). Averaged over variates and windows (arithmetic mean, as GluonTS's
  `MASE` aggregation). A training part with scale 0 (constant) leaves MASE undefined for that
  (variate, window): it is skipped with a warning.
- WQL, weighted quantile loss (the "mean weighted sum quantile loss" of GluonTS, used by Chronos,
  Ansari et al. 2024, §5.2): for level q,
  wQL_q = 2 · Σ_{v,t} ρ_q(y_{v,t}, ŷ^q_{v,t}) / Σ_{v,t} |y_{v,t}|,
  ρ_q(y, ŷ) = max(q·(y − ŷ), (q − 1)·(y − ŷ)) the pinball loss; WQL is the mean of wQL_q over the
  levels (default 0.1, 0.2, …, 0.9). Sums run over all variates and steps of a window (per-window
  WQL) or of every window (overall WQL). Undefined when Σ|y| = 0.
- Relative scores: model / seasonal naive (below 1: the model is better), the ratio of the overall
  scores (Chronos reports the geometric mean of such ratios across datasets).
"""

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from apps.core.errors import Invalid
from apps.forecasting.baselines import baseline_forecast
from apps.forecasting.outputs import ForecastOutput

DEFAULT_QUANTILE_LEVELS = [round(0.1 * i, 1) for i in range(1, 10)]

Forecaster = Callable[[list[np.ndarray], int, list[float]], ForecastOutput]


def mase(*, actual: np.ndarray, forecast: np.ndarray, history: np.ndarray, season_length: int) -> float | None:
    """MASE of one forecast (Hyndman & Koehler 2006): mean |actual − forecast| divided by the
    in-sample MAE of the seasonal naive forecast on `history`.

    Shapes: `actual`, `forecast` (H,); `history` (c,) with c > season_length. Returns None when the
    scale is 0 (a history that repeats itself exactly every season).
    """
    history = np.asarray(history, dtype=np.float64)
    if history.size <= season_length:
        raise Invalid(f"MASE needs more than season_length={season_length} points of history, got {history.size}")
    scale = float(np.mean(np.abs(history[season_length:] - history[:-season_length])))
    if scale == 0.0:
        return None
    error = np.abs(np.asarray(actual, dtype=np.float64) - np.asarray(forecast, dtype=np.float64))
    return float(np.mean(error) / scale)


def pinball_loss(*, actual: np.ndarray, quantile_forecast: np.ndarray, level: float) -> np.ndarray:
    """Elementwise pinball (quantile) loss ρ_q(y, ŷ) = max(q·(y − ŷ), (q − 1)·(y − ŷ)); same shape
    as the inputs."""
    diff = np.asarray(actual, dtype=np.float64) - np.asarray(quantile_forecast, dtype=np.float64)
    return np.maximum(level * diff, (level - 1.0) * diff)


def weighted_quantile_loss(*, actual: np.ndarray, quantiles: dict[float, np.ndarray]) -> float | None:
    """WQL (GluonTS's mean weighted sum quantile loss): the mean over levels q of
    2 · Σ ρ_q(actual, quantiles[q]) / Σ |actual|, sums over every element.

    Shapes: `actual` any; each `quantiles[q]` the same. Returns None when Σ|actual| = 0 or no level.
    """
    actual = np.asarray(actual, dtype=np.float64)
    denominator = float(np.sum(np.abs(actual)))
    if denominator == 0.0 or not quantiles:
        return None
    losses = [
        2.0 * float(np.sum(pinball_loss(actual=actual, quantile_forecast=values, level=q))) / denominator
        for q, values in quantiles.items()
    ]
    return float(np.mean(losses))


@dataclass
class Scores:
    """MASE and WQL of one forecaster (or their ratio to seasonal naive's); None where undefined."""

    mase: float | None
    wql: float | None


@dataclass
class WindowScores:
    """One backtest window: it forecasts steps [cutoff, cutoff + prediction_length) of the series."""

    cutoff: int
    model: Scores
    seasonal_naive: Scores


@dataclass
class BacktestResult:
    """The outcome of `backtest`: overall scores of the model and of seasonal naive, their ratio
    (`relative`, model / naive: below 1 the model is better), and the scores per window."""

    prediction_length: int
    windows: int
    season_length: int
    variates: int
    series_length: int
    quantile_levels: list[float]
    model: Scores
    seasonal_naive: Scores
    relative: Scores
    per_window: list[WindowScores]
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Plain JSON-ready dict: floats (rounded to 6 significant digits) or None, lists, strings."""
        return _json_ready(asdict(self))


def _json_ready(value: object) -> object:
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, float | np.floating):
        number = float(value)
        return float(f"{number:.6g}") if math.isfinite(number) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _ratio(model: float | None, naive: float | None) -> float | None:
    if model is None or naive is None or naive == 0.0:
        return None
    return model / naive


def _as_variates(series: np.ndarray) -> np.ndarray:
    try:
        values = np.asarray(series, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise Invalid(f"series is not numeric: {error}") from None
    if values.ndim == 1:
        values = values[None, :]
    if values.ndim != 2 or values.shape[0] == 0 or values.shape[1] == 0:
        raise Invalid(f"series must be of shape (T,) or (variates, T), got {tuple(np.shape(series))}")
    missing = np.argwhere(~np.isfinite(values))
    if missing.size:
        variate, position = (int(i) for i in missing[0])
        raise Invalid(
            f"series has {len(missing)} missing or infinite value(s), the first at variate {variate}, "
            f"position {position}; a backtest needs complete series"
        )
    return values


def _positive_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise Invalid(f"{name} must be a positive integer, got {value!r}")
    return value


def _checked_output(output: ForecastOutput, *, who: str, variates: int, prediction_length: int) -> np.ndarray:
    mean = np.asarray(output.mean, dtype=np.float64)
    if mean.shape != (variates, prediction_length):
        raise ValueError(f"{who} returned a mean of shape {mean.shape}, expected {(variates, prediction_length)}")
    return mean


def backtest(
    *,
    forecaster: Forecaster,
    series: np.ndarray,
    prediction_length: int,
    windows: int,
    season_length: int,
    quantile_levels: list[float] | None = None,
) -> BacktestResult:
    """Backtest `forecaster` on `series` over the last `windows` non-overlapping windows of
    `prediction_length` steps, against seasonal naive (season `season_length`) on the same windows.

    `forecaster(context, prediction_length, quantile_levels)` gets one array of shape (c,) per
    variate (the points before the window's cutoff) and returns a `ForecastOutput` with `mean` of
    shape (variates, prediction_length) and, for WQL, `quantiles` at `quantile_levels` (default 0.1 …
    0.9). A forecaster that gives no quantiles is scored on MASE only (WQL None, with a warning).
    Exceptions raised by the forecaster propagate unchanged.

    `series`: shape (T,) or (variates, T), finite. Needs T ≥ windows·prediction_length +
    season_length + 1 (every window's training part must hold more than one season, for MASE's
    scale), else `Invalid` giving the numbers. Also `Invalid` for non-positive arguments, missing
    values, or quantile levels outside (0, 1).
    """
    prediction_length = _positive_int("prediction_length", prediction_length)
    windows = _positive_int("windows", windows)
    season_length = _positive_int("season_length", season_length)
    levels = [float(q) for q in (DEFAULT_QUANTILE_LEVELS if quantile_levels is None else quantile_levels)]
    for q in levels:
        if not 0.0 < q < 1.0:
            raise Invalid(f"quantile levels must lie strictly between 0 and 1, got {q}")
    values = _as_variates(series)
    variates, length = values.shape
    needed = windows * prediction_length + season_length + 1
    if length < needed:
        raise Invalid(
            f"series has {length} points; {windows} window(s) of prediction_length={prediction_length} "
            f"with season_length={season_length} need at least {needed} "
            f"({windows}×{prediction_length} to forecast + {season_length + 1} of history for MASE's scale)"
        )

    warnings: list[str] = []
    per_window: list[WindowScores] = []
    mase_values: dict[str, list[float]] = {"model": [], "seasonal_naive": []}
    actual_all: list[np.ndarray] = []
    quantiles_all: dict[str, dict[float, list[np.ndarray]]] = {
        "model": {q: [] for q in levels},
        "seasonal_naive": {q: [] for q in levels},
    }
    model_wql_defined = True
    skipped_scales = 0
    for w in range(windows):
        cutoff = length - (windows - w) * prediction_length
        history = values[:, :cutoff]
        actual = values[:, cutoff : cutoff + prediction_length]
        context = [row.copy() for row in history]
        outputs = {
            "model": forecaster(context, prediction_length, list(levels)),
            "seasonal_naive": baseline_forecast(
                method="seasonal_naive",
                series=context,
                prediction_length=prediction_length,
                season_length=season_length,
                quantile_levels=list(levels),
            ),
        }
        window_scores: dict[str, Scores] = {}
        for who, output in outputs.items():
            mean = _checked_output(output, who=who, variates=variates, prediction_length=prediction_length)
            scores = [
                mase(actual=actual[v], forecast=mean[v], history=history[v], season_length=season_length)
                for v in range(variates)
            ]
            defined = [s for s in scores if s is not None]
            if who == "model":
                skipped_scales += len(scores) - len(defined)
            mase_values[who].extend(defined)
            quantiles = _output_quantiles(output, levels=levels, variates=variates, prediction_length=prediction_length)
            if quantiles is None:
                model_wql_defined = False
                wql = None
            else:
                wql = weighted_quantile_loss(actual=actual, quantiles=quantiles)
                for q, forecast_q in quantiles.items():
                    quantiles_all[who][q].append(forecast_q)
            window_scores[who] = Scores(mase=float(np.mean(defined)) if defined else None, wql=wql)
        actual_all.append(actual)
        per_window.append(
            WindowScores(cutoff=cutoff, model=window_scores["model"], seasonal_naive=window_scores["seasonal_naive"])
        )

    if skipped_scales:
        warnings.append(
            f"MASE undefined for {skipped_scales} (variate, window) pair(s): the training part repeats "
            "itself every season exactly (seasonal naive scale 0); they are left out of the average"
        )
    if not model_wql_defined:
        warnings.append(f"the model gave no quantiles at {levels}: WQL is not computed for it")
    actual_stack = np.concatenate(actual_all, axis=1)
    if not np.any(actual_stack):
        warnings.append(
            "WQL undefined for every forecaster: the values in the backtest windows are all 0 "
            "(WQL divides by Σ|y|); judge by MASE"
        )
    overall: dict[str, Scores] = {}
    for who in ("model", "seasonal_naive"):
        wql = None
        if who == "seasonal_naive" or model_wql_defined:
            wql = weighted_quantile_loss(
                actual=actual_stack,
                quantiles={q: np.concatenate(parts, axis=1) for q, parts in quantiles_all[who].items()},
            )
        overall[who] = Scores(mase=float(np.mean(mase_values[who])) if mase_values[who] else None, wql=wql)
    return BacktestResult(
        prediction_length=prediction_length,
        windows=windows,
        season_length=season_length,
        variates=variates,
        series_length=length,
        quantile_levels=levels,
        model=overall["model"],
        seasonal_naive=overall["seasonal_naive"],
        relative=Scores(
            mase=_ratio(overall["model"].mase, overall["seasonal_naive"].mase),
            wql=_ratio(overall["model"].wql, overall["seasonal_naive"].wql),
        ),
        per_window=per_window,
        warnings=warnings,
    )


def _output_quantiles(
    output: ForecastOutput, *, levels: list[float], variates: int, prediction_length: int
) -> dict[float, np.ndarray] | None:
    """The output's quantiles at `levels` (matched to 1e-9), each (variates, prediction_length);
    None when any level is missing."""
    found: dict[float, np.ndarray] = {}
    for q in levels:
        match = next((key for key in output.quantiles if math.isclose(float(key), q, abs_tol=1e-9)), None)
        if match is None:
            return None
        values = np.asarray(output.quantiles[match], dtype=np.float64)
        if values.shape != (variates, prediction_length):
            raise ValueError(f"quantile {q} has shape {values.shape}, expected {(variates, prediction_length)}")
        found[q] = values
    return found
