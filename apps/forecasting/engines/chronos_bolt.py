"""Chronos-Bolt through chronos-forecasting's `ChronosBoltPipeline`.

Univariate: each variate is forecast on its own (a batch). No covariates: they are dropped with a
warning. 9 quantiles; its point forecast is the median. Past its trained prediction length the
pipeline unrolls by itself (feeding back the median); the answer says so.
Source: chronos-forecasting 2.3 `ChronosBoltPipeline.predict_quantiles`.
"""

from pathlib import Path

import numpy as np

from apps.forecasting.engines.base import (
    ForecastRequest,
    InferenceFailed,
    compute_dtype,
    covariates_dropped_warning,
    device,
    unrolled_warning,
)
from apps.forecasting.outputs import ForecastOutput
from apps.inference.engines.base import torch_memory_bytes


class ChronosBoltEngine:
    family = "chronos-bolt"

    def __init__(self, *, folder: Path, files: list[str], variant: str) -> None:
        from chronos import BaseChronosPipeline

        self.pipeline = BaseChronosPipeline.from_pretrained(
            str(folder), device_map=device(), torch_dtype=compute_dtype(variant)
        )
        self.horizon_limit = int(self.pipeline.model.chronos_config.prediction_length)

    @property
    def memory_bytes(self) -> int:
        return torch_memory_bytes(self.pipeline.model)

    def forecast(self, request: ForecastRequest) -> ForecastOutput:
        import torch

        warnings = []
        if request.covariate_count:
            warnings.append(covariates_dropped_warning(self.family, request.covariate_count, "takes no covariates"))
        if request.prediction_length > self.horizon_limit:
            warnings.append(unrolled_warning(self.family, request.prediction_length, self.horizon_limit))
        levels = sorted({*request.quantile_levels, 0.5})
        series = [torch.tensor(row, dtype=torch.float32) for row in request.target]
        try:
            with torch.no_grad():
                quantiles, median = self.pipeline.predict_quantiles(
                    series, prediction_length=request.prediction_length, quantile_levels=levels
                )
        except (ValueError, RuntimeError, AssertionError) as error:
            raise InferenceFailed(f"chronos-bolt inference failed: {error}") from error
        values = quantiles.float().cpu().numpy()  # (variates, H, levels)
        return ForecastOutput(
            mean=median.float().cpu().numpy().astype(np.float64),
            quantiles={
                level: values[:, :, levels.index(level)].astype(np.float64) for level in request.quantile_levels
            },
            point="median",
            warnings=warnings,
        )

    def close(self) -> None:
        self.pipeline = None
