"""The real public series shipped in apps/forecasting/data/: their figures, periods and metadata."""

import numpy as np
import pytest

from apps.core.errors import NotFound
from apps.forecasting.baselines import season_length_infer
from apps.forecasting.series import DATA_DIR, SERIES, series_load, series_names


def test_every_shipped_series_loads_complete_and_regular():
    for name in series_names():
        series = series_load(name=name)
        assert series.values.ndim == 1 and series.values.dtype == np.float64
        assert np.isfinite(series.values).all()
        assert len(series.index) == series.values.size
        assert series.index.freq is not None  # every period present, none repeated
        assert series.as_pandas().index.equals(series.index)


def test_air_passengers_are_box_and_jenkins_series_g():
    series = series_load(name="air_passengers")
    assert series.values.size == 144 and series.frequency == "MS" and series.season_length == 12
    assert str(series.index[0].date()) == "1949-01-01" and str(series.index[-1].date()) == "1960-12-01"
    # The published figures: 1949 starts 112, 118, 132; 1960 ends 461, 390, 432; the total is 40,363.
    assert series.values[:3].tolist() == [112, 118, 132]
    assert series.values[-3:].tolist() == [461, 390, 432]
    assert series.values.sum() == 40363


def test_sunspots_nile_and_co2_hold_their_published_figures():
    sunspots = series_load(name="sunspots")
    assert sunspots.values.size == 309 and sunspots.index[0].year == 1700 and sunspots.index[-1].year == 2008
    assert sunspots.values[:3].tolist() == [5.0, 11.0, 16.0]
    nile = series_load(name="nile")
    assert nile.values.size == 100 and nile.index[0].year == 1871 and nile.values[:2].tolist() == [1120, 1160]
    co2 = series_load(name="co2")
    assert co2.values.size == 526 and 310 < co2.values.min() < 320 and 365 < co2.values.max() < 375


def test_the_shipped_season_lengths_are_what_the_data_shows():
    assert season_length_infer(values=series_load(name="air_passengers").values) == 12
    assert season_length_infer(values=series_load(name="co2").values) == 12
    assert season_length_infer(values=series_load(name="nile").values) == 1
    # The solar cycle averages ~11 years; the yearly ACF peaks at 10: within one year of it.
    assert abs(season_length_infer(values=series_load(name="sunspots").values) - 11) <= 1


def test_every_series_has_a_source_and_licence_in_the_data_readme():
    notice = (DATA_DIR / "README.md").read_text()
    for info in SERIES.values():
        assert info.file in notice
    assert notice.count("public domain") >= 3


def test_an_unknown_series_is_not_found_listing_the_names():
    with pytest.raises(NotFound, match="air_passengers.*sunspots"):
        series_load(name="lynx")
