"""Toto 2.0 through `toto-2` (`Toto2Model.from_pretrained(folder)` and `.forecast`).

Multivariate: the variates of the series attend to each other. Toto 2.0 predicts 9 quantile knots
(0.1 … 0.9) only: its point forecast is the median; other levels are interpolated linearly between
the knots (clamped to 0.1 and 0.9). Known-future covariates go in as `known_dynamic` rows over
history + horizon with a mask, so a covariate sent without its history is masked over the history
(a warning says so). The history is left-padded (masked) to whole patches.
Source: toto-2 2.0.0 `Toto2Model.forecast` / `_prepare_forecast_inputs`.
"""

from pathlib import Path

import numpy as np

from apps.forecasting.engines.base import ForecastRequest, InferenceFailed, device
from apps.forecasting.outputs import ForecastOutput
from apps.inference.engines.base import torch_memory_bytes

KNOTS = [round(0.1 * i, 1) for i in range(1, 10)]


def knot_interpolate(knots: np.ndarray, level: float) -> np.ndarray:
    """The quantile at `level` from values at KNOTS along the first axis (linear, clamped)."""
    position = np.interp(min(max(level, 0.1), 0.9), KNOTS, np.arange(len(KNOTS)))
    low, high = int(np.floor(position)), int(np.ceil(position))
    weight = position - low
    return knots[low] * (1 - weight) + knots[high] * weight


class Toto2Engine:
    family = "toto2"

    def __init__(self, *, folder: Path, files: list[str], variant: str) -> None:
        from toto2 import Toto2Model

        self.model = Toto2Model.from_pretrained(str(folder), map_location=device())
        self.model.eval()
        self.patch_size = int(self.model.config.patch_size)

    @property
    def memory_bytes(self) -> int:
        return torch_memory_bytes(self.model)

    def forecast(self, request: ForecastRequest) -> ForecastOutput:
        import torch

        warnings = []
        variates, length = request.target.shape
        pad = (-length) % self.patch_size
        target = np.pad(request.target, ((0, 0), (pad, 0)))
        observed = np.pad(np.ones_like(request.target, dtype=bool), ((0, 0), (pad, 0)))
        tensor = torch.tensor(target, dtype=torch.float32, device=device()).unsqueeze(0)
        inputs = {
            "target": tensor,
            "target_mask": torch.tensor(observed, device=device()).unsqueeze(0),
            "series_ids": torch.zeros((1, variates), dtype=torch.long, device=device()),
        }
        if request.covariate_count:
            count = request.covariate_count
            if request.past_exogenous is None:
                past = np.zeros((count, length))
                past_known = np.zeros((count, length), dtype=bool)
                warnings.append(
                    f"{count} covariate(s) sent without past_exogenous: their history was masked as unknown; "
                    "send past_exogenous for better forecasts"
                )
            else:
                past, past_known = request.past_exogenous, np.ones((count, length), dtype=bool)
            known = np.pad(np.concatenate([past, request.future_exogenous], axis=1), ((0, 0), (pad, 0)))
            known_mask = np.pad(
                np.concatenate([past_known, np.ones((count, request.prediction_length), dtype=bool)], axis=1),
                ((0, 0), (pad, 0)),
            )
            inputs["known_dynamic"] = torch.tensor(known, dtype=torch.float32, device=device()).unsqueeze(0)
            inputs["known_dynamic_mask"] = torch.tensor(known_mask, device=device()).unsqueeze(0)
            inputs["known_dynamic_series_ids"] = torch.zeros((1, count), dtype=torch.long, device=device())
        try:
            with torch.no_grad():
                knots = self.model.forecast(inputs, horizon=request.prediction_length, has_missing_values=True)
        except (ValueError, RuntimeError, AssertionError) as error:
            raise InferenceFailed(f"toto2 inference failed: {error}") from error
        values = knots.float().cpu().numpy()[:, 0].astype(np.float64)  # (9 knots, variates, H)
        return ForecastOutput(
            mean=values[KNOTS.index(0.5)],
            quantiles={level: knot_interpolate(values, level) for level in request.quantile_levels},
            point="median",
            warnings=warnings,
        )

    def close(self) -> None:
        self.model = None
