"""What every forecaster returns: model engines (Chronos-2, Chronos-Bolt, TimesFM, Toto) and the
statistical baselines alike, so the API, evaluation and fine-tuning treat them the same."""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ForecastOutput:
    """One forecast of `variates` series over `prediction_length` steps.

    - `mean`: shape (variates, prediction_length): the point forecast. The true mean where the
      model gives one; where it gives only quantiles, their median (say so in `point`).
    - `quantiles`: level (0–1) → array of shape (variates, prediction_length); empty when none
      were asked for.
    - `point`: "mean" or "median": what `mean` really is.
    - `warnings`: what the caller should know (covariates dropped or used without history, a horizon
      unrolled past the model's limit, …), never silent.
    """

    mean: np.ndarray
    quantiles: dict[float, np.ndarray] = field(default_factory=dict)
    point: str = "mean"
    warnings: list[str] = field(default_factory=list)
