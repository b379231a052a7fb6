"""Real public time series shipped with Modelyard (apps/forecasting/data/, sources and licences in
its README.md): the baselines' tests, the backtest benchmark and a fresh install forecast real data
with them, no download needed.

    >>> s = series_load(name="air_passengers")
    >>> s.values.shape, s.frequency, s.season_length
    ((144,), 'MS', 12)
"""

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from apps.core.errors import NotFound

if TYPE_CHECKING:
    import pandas as pd

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class SeriesInfo:
    """What is known about one shipped series before reading it."""

    file: str
    frequency: str  # a pandas offset alias: "MS" month start, "YS" year start
    season_length: int  # the seasonal period in steps (1: none)
    unit: str
    description: str


SERIES: dict[str, SeriesInfo] = {
    "air_passengers": SeriesInfo(
        file="air_passengers.csv",
        frequency="MS",
        season_length=12,
        unit="thousands of passengers",
        description="International airline passengers per month, 1949–1960 (Box & Jenkins, series G)",
    ),
    "sunspots": SeriesInfo(
        file="sunspots.csv",
        frequency="YS",
        season_length=11,
        unit="mean sunspot number",
        description="Yearly mean sunspot number, 1700–2008 (NOAA NGDC / SIDC); the ~11-year solar cycle",
    ),
    "nile": SeriesInfo(
        file="nile.csv",
        frequency="YS",
        season_length=1,
        unit="10^8 m^3",
        description="Annual flow of the Nile at Aswan, 1871–1970 (Cobb 1978)",
    ),
    "co2": SeriesInfo(
        file="co2_mauna_loa_monthly.csv",
        frequency="MS",
        season_length=12,
        unit="ppm",
        description="Atmospheric CO2 at Mauna Loa, monthly means of weekly values, 1958–2001 (Keeling & Whorf)",
    ),
}


@dataclass(frozen=True)
class RealSeries:
    """One shipped series: `values` is a float64 array of shape (T,), oldest first; `index` its
    periods (a pandas DatetimeIndex at `frequency`)."""

    name: str
    values: np.ndarray
    index: "pd.DatetimeIndex"
    frequency: str
    season_length: int
    unit: str
    description: str

    def as_pandas(self) -> "pd.Series":
        """The series as a pandas Series indexed by its periods."""
        import pandas as pd

        return pd.Series(self.values, index=self.index, name=self.name)


def series_names() -> list[str]:
    """The names `series_load` accepts, sorted."""
    return sorted(SERIES)


def series_load(*, name: str) -> RealSeries:
    """Read the shipped series `name` (see `SERIES`).

    Raises `NotFound` listing the names that exist. The CSV's first column is the period (`YYYY-MM`
    or `YYYY`), the second the value.
    """
    import pandas as pd

    info = SERIES.get(name)
    if info is None:
        raise NotFound(f"no shipped series {name!r}; there are: {', '.join(series_names())}")
    frame = pd.read_csv(DATA_DIR / info.file, dtype={0: str})
    period_column, value_column = frame.columns[:2]
    index = pd.DatetimeIndex(pd.to_datetime(frame[period_column].astype(str)), freq=info.frequency)
    return RealSeries(
        name=name,
        values=frame[value_column].to_numpy(dtype=np.float64),
        index=index,
        frequency=info.frequency,
        season_length=info.season_length,
        unit=info.unit,
        description=info.description,
    )
