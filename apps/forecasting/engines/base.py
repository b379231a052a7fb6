"""What every forecast engine is: a model of one family loaded from a store folder, in this process.

An engine is built with the folder of a stored model (`Engine(folder=…, files=…, variant=…)`,
which loads it), reports the memory it takes (`memory_bytes`), answers `forecast(request)` with a
`ForecastOutput` and is dropped with `close()`. Engines know nothing of rows, residency or HTTP.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from apps.core.errors import DomainError
from apps.forecasting.outputs import ForecastOutput


class InferenceFailed(DomainError):
    """The model could not produce a forecast (a library error): 500 with the reason."""

    status_code = 500


@dataclass
class ForecastRequest:
    """One forecast to make.

    - `target`: (variates, T) history, float64; the variates of one multivariate series.
    - `prediction_length`: H ≥ 1 steps.
    - `past_exogenous`: (covariates, T) or None: each covariate's history.
    - `future_exogenous`: (covariates, H) or None: each covariate's known future.
    - `quantile_levels`: levels in (0, 1) to return besides the point forecast.
    """

    target: np.ndarray
    prediction_length: int
    past_exogenous: np.ndarray | None = None
    future_exogenous: np.ndarray | None = None
    quantile_levels: list[float] = field(default_factory=list)

    @property
    def covariate_count(self) -> int:
        return 0 if self.future_exogenous is None else int(self.future_exogenous.shape[0])


class ForecastEngine(Protocol):
    family: str

    def __init__(self, *, folder: Path, files: list[str], variant: str) -> None: ...

    @property
    def memory_bytes(self) -> int: ...

    def forecast(self, request: ForecastRequest) -> ForecastOutput: ...

    def close(self) -> None: ...


def compute_dtype(variant: str) -> "object":
    """The torch dtype a variant runs in: f16 runs in float16 on a GPU; on a CPU every variant runs
    in float32 (half-precision matmuls there are slow or missing), which the README states."""
    import torch

    if variant == "f16" and torch.cuda.is_available():
        return torch.float16
    return torch.float32


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def covariates_dropped_warning(family: str, count: int, why: str) -> str:
    return f"{count} future_exogenous covariate(s) ignored: {family} {why}"


def unrolled_warning(family: str, horizon: int, limit: int) -> str:
    return (
        f"prediction_length {horizon} exceeds {family}'s horizon of {limit} steps: the forecast was unrolled "
        f"(its own predictions fed back as history), so accuracy drops past step {limit}"
    )


def unroll(
    *,
    target: np.ndarray,
    prediction_length: int,
    limit: int,
    quantile_levels: list[float],
    step: Callable[[np.ndarray, int], tuple[np.ndarray, dict[float, np.ndarray]]],
) -> tuple[np.ndarray, dict[float, np.ndarray]]:
    """Forecast `prediction_length` steps with a model that does at most `limit` per call: call
    `step(history (variates, T), h)` → (mean (variates, h), {level: (variates, h)}) repeatedly,
    appending each mean to the history (the usual autoregressive unrolling; the quantiles past the
    first call are those of each call, conditioned on the fed-back mean, so they are too narrow)."""
    history = target
    means: list[np.ndarray] = []
    quantiles: dict[float, list[np.ndarray]] = {level: [] for level in quantile_levels}
    remaining = prediction_length
    while remaining > 0:
        horizon = min(limit, remaining)
        mean, levels = step(history, horizon)
        means.append(mean[:, :horizon])
        for level in quantile_levels:
            quantiles[level].append(levels[level][:, :horizon])
        history = np.concatenate([history, mean[:, :horizon]], axis=1)
        remaining -= horizon
    return np.concatenate(means, axis=1), {level: np.concatenate(parts, axis=1) for level, parts in quantiles.items()}
