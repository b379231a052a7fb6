"""Chronos-2 through chronos-forecasting's `Chronos2Pipeline`.

Chronos-2 forecasts the variates of a series jointly and takes covariates: each covariate's past
(`past_covariates`) and, for known-future ones, its future (`future_covariates`). A covariate sent
without its history is given as missing values over the history (Chronos-2 masks NaNs), with a
warning. It predicts quantiles only (21 levels): its point forecast is the median.
Source: chronos-forecasting 2.3 `Chronos2Pipeline.predict_quantiles`.
"""

from pathlib import Path

import numpy as np

from apps.forecasting.engines.base import ForecastRequest, InferenceFailed, compute_dtype, device, unrolled_warning
from apps.forecasting.outputs import ForecastOutput
from apps.inference.engines.base import torch_memory_bytes


class Chronos2Engine:
    family = "chronos2"

    def __init__(self, *, folder: Path, files: list[str], variant: str) -> None:
        from chronos import BaseChronosPipeline

        self.pipeline = BaseChronosPipeline.from_pretrained(
            str(folder), device_map=device(), torch_dtype=compute_dtype(variant)
        )
        config = self.pipeline.model.chronos_config
        self.horizon_limit = int(config.output_patch_size * config.max_output_patches)

    @property
    def memory_bytes(self) -> int:
        return torch_memory_bytes(self.pipeline.model)

    def forecast(self, request: ForecastRequest) -> ForecastOutput:
        import torch

        warnings: list[str] = []
        item: dict = {"target": request.target.astype(np.float32)}
        if request.covariate_count:
            past = request.past_exogenous
            if past is None:
                past = np.full((request.covariate_count, request.target.shape[1]), np.nan)
                warnings.append(
                    f"{request.covariate_count} covariate(s) sent without past_exogenous: their history was "
                    "treated as missing values; send past_exogenous for better forecasts"
                )
            names = [f"covariate_{index}" for index in range(request.covariate_count)]
            item["past_covariates"] = {name: past[i].astype(np.float32) for i, name in enumerate(names)}
            item["future_covariates"] = {
                name: request.future_exogenous[i].astype(np.float32) for i, name in enumerate(names)
            }
        if request.prediction_length > self.horizon_limit:
            warnings.append(unrolled_warning(self.family, request.prediction_length, self.horizon_limit))
        levels = sorted({*request.quantile_levels, 0.5})
        try:
            with torch.no_grad():
                quantiles, median = self.pipeline.predict_quantiles(
                    [item], prediction_length=request.prediction_length, quantile_levels=levels
                )
        except (ValueError, RuntimeError, AssertionError) as error:
            raise InferenceFailed(f"chronos2 inference failed: {error}") from error
        values = quantiles[0].float().cpu().numpy()  # (variates, H, levels)
        return ForecastOutput(
            mean=median[0].float().cpu().numpy().astype(np.float64),
            quantiles={
                level: values[:, :, levels.index(level)].astype(np.float64) for level in request.quantile_levels
            },
            point="median",
            warnings=warnings,
        )

    def close(self) -> None:
        self.pipeline = None
