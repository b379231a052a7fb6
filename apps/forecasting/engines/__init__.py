"""Forecast engines: one module per model family, behind `engines.base.ForecastEngine`.

Adding a family is adding a module and a line; an engine module (and torch) is imported only when
a model of its family is loaded. `FAMILY_REQUIREMENTS` names the package a family needs, so that a
pull or a forecast of a family whose library is missing is a clear 400, not a crash at load.
"""

from apps.core.registry import Registry
from apps.forecasting.engines.base import ForecastEngine, ForecastRequest, InferenceFailed

ENGINES: Registry[type[ForecastEngine]] = Registry(
    "forecast model family",
    {
        "chronos2": "apps.forecasting.engines.chronos2.Chronos2Engine",
        "chronos-bolt": "apps.forecasting.engines.chronos_bolt.ChronosBoltEngine",
        "timesfm": "apps.forecasting.engines.timesfm.TimesFMEngine",
        "toto": "apps.forecasting.engines.toto.TotoEngine",
        "toto2": "apps.forecasting.engines.toto2.Toto2Engine",
    },
)

# family → (importable module, what to install). Toto 2.0 (`toto-2`) declares Python >= 3.12 but
# runs on 3.11 (requirements/nodeps.txt installs it with --ignore-requires-python).
FAMILY_REQUIREMENTS = {
    "chronos2": ("chronos", "chronos-forecasting"),
    "chronos-bolt": ("chronos", "chronos-forecasting"),
    "timesfm": ("timesfm", "timesfm[torch]"),
    "toto": ("toto", "toto-ts"),
    "toto2": ("toto2", "toto-2 (pip install --no-deps --ignore-requires-python, see requirements/nodeps.txt)"),
}


def family_unavailable_reason(family: str) -> str | None:
    """Why models of `family` cannot run in this installation, or None when they can."""
    import importlib.util

    if family not in FAMILY_REQUIREMENTS:
        return f"no forecast engine for the family {family!r}"
    module, package = FAMILY_REQUIREMENTS[family]
    if importlib.util.find_spec(module) is None:
        return f"the {family} engine needs the {package!r} package, which is not installed"
    return None


__all__ = ["ENGINES", "ForecastEngine", "ForecastRequest", "InferenceFailed", "family_unavailable_reason"]
