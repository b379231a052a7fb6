"""Toto 1.0 through `toto-ts` (`Toto.load_from_checkpoint`: its `from_pretrained` fails under
huggingface_hub 2.x).

Multivariate: the variates of the series attend to each other. Toto predicts a mixture
distribution; the answer's `mean` is its true mean and quantiles come from `NUM_SAMPLES` samples.
Exogenous covariates are appended as the last channels with `future_exogenous_variables`, which
needs their history: without `past_exogenous` they are dropped with a warning.
Source: toto-ts 0.2.0 `TotoForecaster.forecast`.
"""

from pathlib import Path

import numpy as np

from apps.forecasting.engines.base import (
    ForecastRequest,
    InferenceFailed,
    covariates_dropped_warning,
    device,
)
from apps.forecasting.outputs import ForecastOutput
from apps.inference.engines.base import torch_memory_bytes

NUM_SAMPLES = 64
TIME_INTERVAL_S = 60


class TotoEngine:
    family = "toto"

    def __init__(self, *, folder: Path, files: list[str], variant: str) -> None:
        from toto.inference.forecaster import TotoForecaster
        from toto.model.toto import Toto

        self.toto = Toto.load_from_checkpoint(str(folder), map_location=device())
        self.toto.eval()
        self.forecaster = TotoForecaster(self.toto.model)

    @property
    def memory_bytes(self) -> int:
        return torch_memory_bytes(self.toto)

    def forecast(self, request: ForecastRequest) -> ForecastOutput:
        import torch
        from toto.data.util.dataset import MaskedTimeseries

        warnings = []
        series = request.target
        future = None
        if request.covariate_count:
            if request.past_exogenous is None:
                warnings.append(
                    covariates_dropped_warning(
                        self.family, request.covariate_count, "needs each covariate's history: send past_exogenous"
                    )
                )
            else:
                series = np.concatenate([series, request.past_exogenous], axis=0)
                future = torch.tensor(request.future_exogenous, dtype=torch.float32, device=device()).unsqueeze(0)
        variates, length = series.shape
        values = torch.tensor(series, dtype=torch.float32, device=device()).unsqueeze(0)  # a batch of one
        inputs = MaskedTimeseries(
            series=values,
            padding_mask=torch.ones_like(values, dtype=torch.bool),
            id_mask=torch.zeros_like(values, dtype=torch.int),
            timestamp_seconds=torch.arange(length, device=device()).expand(1, variates, length) * TIME_INTERVAL_S,
            time_interval_seconds=torch.full((1, variates), TIME_INTERVAL_S, device=device()),
            num_exogenous_variables=0 if future is None else int(future.shape[1]),
        )
        kwargs = {"future_exogenous_variables": future} if future is not None else {}
        try:
            with torch.no_grad():
                forecast = self.forecaster.forecast(
                    inputs,
                    prediction_length=request.prediction_length,
                    num_samples=NUM_SAMPLES,
                    samples_per_batch=NUM_SAMPLES,
                    **kwargs,
                )
        except (ValueError, RuntimeError, AssertionError, TypeError) as error:
            raise InferenceFailed(f"toto inference failed: {error}") from error
        targets = request.target.shape[0]
        mean = forecast.mean.float().cpu().numpy().reshape(-1, request.prediction_length)[:targets]
        quantiles = {
            level: forecast.quantile(level).float().cpu().numpy().reshape(-1, request.prediction_length)[:targets]
            for level in request.quantile_levels
        }
        return ForecastOutput(
            mean=mean.astype(np.float64),
            quantiles={level: value.astype(np.float64) for level, value in quantiles.items()},
            point="mean",
            warnings=warnings,
        )

    def close(self) -> None:
        self.forecaster = None
        self.toto = None
