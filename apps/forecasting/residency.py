"""The forecast engines loaded in this process (the model runtime, which serves the forecast
surface): the runtime's LRU residency (`apps.inference.residency`: memory budget, idle unload, one
call per model at a time) with a loader that builds forecast engines.

A forecast model's `ModelFiles.kind` is `"<family>:<variant>"` (e.g. `chronos2:f16`), and its key
carries the store entry's download time, so a model pulled or fine-tuned again under the same name
is loaded afresh rather than served from the old weights.
"""

import threading

from apps.forecasting.engines import ENGINES, ForecastEngine
from apps.inference.residency import ModelFiles, Residency

_RESIDENCY: Residency | None = None
_LOCK = threading.Lock()


def forecast_engine_load(model: ModelFiles) -> ForecastEngine:
    """Build the engine of `model`'s family in its variant (this loads the weights)."""
    family, _, variant = model.kind.partition(":")
    return ENGINES.get(family)(folder=model.folder, files=list(model.files), variant=variant or "f32")


def forecast_residency() -> Residency:
    """This process's forecast engines."""
    global _RESIDENCY
    with _LOCK:
        if _RESIDENCY is None:
            _RESIDENCY = Residency(loader=forecast_engine_load)
        return _RESIDENCY
