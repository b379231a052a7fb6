"""TimesFM 2.5 through the `timesfm` package (torch build).

Univariate: each variate is forecast on its own (a batch). Its point forecast is a true mean
(output index 0); indices 1–9 are the deciles 0.1–0.9, other levels are interpolated linearly
between them (clamped to 0.1 and 0.9). Covariates need timesfm's JAX extra (`timesfm[xreg]`), not
installed: they are dropped with a warning. Horizons past `HORIZON_LIMIT` are unrolled.
Source: timesfm 3.0.2 `TimesFM_2p5_200M_torch.compile` / `.forecast`.

The 2.5 architecture is a class attribute of the module (`config`); a checkpoint of another size
(a test's tiny one) says so with a `definition` block in its `config.json` (the dataclass's fields,
nested), which replaces it for this load.
"""

import dataclasses
import json
from pathlib import Path

import numpy as np

from apps.forecasting.engines.base import (
    ForecastRequest,
    InferenceFailed,
    covariates_dropped_warning,
    unroll,
    unrolled_warning,
)
from apps.forecasting.outputs import ForecastOutput
from apps.inference.engines.base import torch_memory_bytes

MAX_CONTEXT = 2048
HORIZON_LIMIT = 512
DECILES = [round(0.1 * i, 1) for i in range(1, 10)]


def definition_from(config: dict) -> object | None:
    """The `TimesFM_2p5_200M_Definition` a checkpoint's config.json describes, or None (the 200M)."""
    from timesfm import configs
    from timesfm.timesfm_2p5 import timesfm_2p5_base

    block = config.get("definition")
    if not block:
        return None
    transformer = configs.TransformerConfig(**block["stacked_transformers"]["transformer"])
    return timesfm_2p5_base.TimesFM_2p5_200M_Definition(
        **{
            **{key: value for key, value in block.items() if not isinstance(value, dict)},
            "tokenizer": configs.ResidualBlockConfig(**block["tokenizer"]),
            "stacked_transformers": configs.StackedTransformersConfig(
                num_layers=block["stacked_transformers"]["num_layers"], transformer=transformer
            ),
            "output_projection_point": configs.ResidualBlockConfig(**block["output_projection_point"]),
            "output_projection_quantiles": configs.ResidualBlockConfig(**block["output_projection_quantiles"]),
        }
    )


class TimesFMEngine:
    family = "timesfm"
    horizon_limit = HORIZON_LIMIT

    def __init__(self, *, folder: Path, files: list[str], variant: str) -> None:
        import timesfm
        from timesfm.timesfm_2p5 import timesfm_2p5_torch

        config_file = Path(folder) / "config.json"
        config = json.loads(config_file.read_text()) if config_file.is_file() else {}
        definition = definition_from(config)
        module_cls = timesfm_2p5_torch.TimesFM_2p5_200M_torch_module
        original = module_cls.config
        try:
            if definition is not None:
                module_cls.config = definition
            self.model = timesfm_2p5_torch.TimesFM_2p5_200M_torch(torch_compile=False)
        finally:
            module_cls.config = original
        self.model.load_checkpoint(str(folder), torch_compile=False)
        self.model.compile(
            timesfm.ForecastConfig(
                max_context=MAX_CONTEXT,
                max_horizon=HORIZON_LIMIT,
                normalize_inputs=True,
                use_continuous_quantile_head=True,
                fix_quantile_crossing=True,
            )
        )

    @property
    def memory_bytes(self) -> int:
        return torch_memory_bytes(self.model.model)

    def _step(self, history: np.ndarray, horizon: int, levels: list[float]) -> tuple[np.ndarray, dict]:
        point, quantiles = self.model.forecast(horizon=horizon, inputs=[row.astype(np.float32) for row in history])
        point = np.asarray(point, dtype=np.float64)[:, :horizon]
        deciles = np.asarray(quantiles, dtype=np.float64)[:, :horizon, 1:10]  # (n, h, 9)
        return point, {level: self._interpolate(deciles, level) for level in levels}

    @staticmethod
    def _interpolate(deciles: np.ndarray, level: float) -> np.ndarray:
        position = np.interp(min(max(level, 0.1), 0.9), DECILES, np.arange(9))
        low, high = int(np.floor(position)), int(np.ceil(position))
        weight = position - low
        return deciles[:, :, low] * (1 - weight) + deciles[:, :, high] * weight

    def forecast(self, request: ForecastRequest) -> ForecastOutput:
        warnings = []
        if request.covariate_count:
            warnings.append(
                covariates_dropped_warning(
                    self.family, request.covariate_count, "2.5 needs the JAX extra (timesfm[xreg]) for covariates"
                )
            )
        if request.prediction_length > self.horizon_limit:
            warnings.append(unrolled_warning(self.family, request.prediction_length, self.horizon_limit))
        levels = list(request.quantile_levels)
        try:
            mean, quantiles = unroll(
                target=request.target,
                prediction_length=request.prediction_length,
                limit=self.horizon_limit,
                quantile_levels=levels,
                step=lambda history, horizon: self._step(history, horizon, levels),
            )
        except (ValueError, RuntimeError, AssertionError) as error:
            raise InferenceFailed(f"timesfm inference failed: {error}") from error
        return ForecastOutput(mean=mean, quantiles=quantiles, point="mean", warnings=warnings)

    def close(self) -> None:
        self.model = None


def definition_as_config(definition: object) -> dict:
    """The `definition` block of config.json for a TimesFM 2.5 definition (the inverse of `definition_from`)."""
    return {"definition": dataclasses.asdict(definition)}
