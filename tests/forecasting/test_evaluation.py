"""Backtests: rolling-origin windows, MASE (Hyndman & Koehler 2006) and WQL (GluonTS / Chronos) worked
out by hand on a tiny series, checked against utilsforecast's MASE on a real one, and every error."""

import json

import numpy as np
import pytest

from apps.core.errors import Invalid
from apps.forecasting.baselines import baseline_forecast
from apps.forecasting.evaluation import backtest, mase, weighted_quantile_loss
from apps.forecasting.outputs import ForecastOutput
from apps.forecasting.series import series_load

TINY = np.array([2, 4, 3, 5, 4, 6, 8, 7], dtype=float)


def last_value_with_band(context, prediction_length, quantile_levels):
    """Mean: each variate's last value; quantile q: that value + 4·(q − 0.5) (0.25 → −1, 0.75 → +1)."""
    last = np.array([[row[-1]] * prediction_length for row in context], dtype=float)
    return ForecastOutput(mean=last, quantiles={q: last + 4 * (q - 0.5) for q in quantile_levels})


def test_mase_and_wql_match_the_hand_computed_values():
    """T=8, season 2, 2 windows of 2 (cutoffs 4 and 6).
    Window 0: history 2 4 3 5 → scale (|3−2| + |5−4|)/2 = 1; actual 4 6; model 5 5 → MASE 1;
    seasonal naive 3 5 → MASE 1. Window 1: history 2 4 3 5 4 6 → scale 1; actual 8 7; model 6 6 →
    MASE 1.5; naive 4 6 → 2.5. Overall MASE: model 1.25, naive 1.75, relative 5/7.
    WQL at 0.25/0.75, ρ_q(y, ŷ) = max(q·(y − ŷ), (q − 1)·(y − ŷ)). Window 0: quantiles 4 4 / 6 6,
    actual 4 6: ρ sums 0.25·2 = 0.5 and 0.25·2 = 0.5, Σ|y| = 10 → (0.1 + 0.1)/2 = 0.1. Window 1:
    quantiles 5 5 / 7 7, actual 8 7: ρ sums 0.25·(3 + 2) = 1.25 and 0.75·1 = 0.75, Σ|y| = 15 →
    (2.5/15 + 1.5/15)/2 = 2/15. Overall: (2·1.75/25 + 2·1.25/25)/2 = 0.12."""
    result = backtest(
        forecaster=last_value_with_band,
        series=TINY,
        prediction_length=2,
        windows=2,
        season_length=2,
        quantile_levels=[0.25, 0.75],
    )
    assert [w.cutoff for w in result.per_window] == [4, 6]
    assert [w.model.mase for w in result.per_window] == pytest.approx([1.0, 1.5])
    assert [w.seasonal_naive.mase for w in result.per_window] == pytest.approx([1.0, 2.5])
    assert result.model.mase == pytest.approx(1.25) and result.seasonal_naive.mase == pytest.approx(1.75)
    assert result.relative.mase == pytest.approx(1.25 / 1.75)
    assert [w.model.wql for w in result.per_window] == pytest.approx([0.1, 2 / 15])
    assert result.model.wql == pytest.approx(0.12)
    assert result.seasonal_naive.wql is not None and result.relative.wql == pytest.approx(
        0.12 / result.seasonal_naive.wql
    )
    assert (result.series_length, result.variates, result.warnings) == (8, 1, [])


def test_the_metric_functions_alone():
    assert mase(actual=[4, 6], forecast=[5, 5], history=[2, 4, 3, 5], season_length=2) == pytest.approx(1.0)
    assert mase(actual=[1], forecast=[2], history=[3, 3, 3], season_length=1) is None  # scale 0
    quantiles = {0.5: np.array([1.0, 3.0])}
    # Median: 2·Σ 0.5·|y − ŷ| / Σ|y| = Σ|y − ŷ| / Σ|y| = (1 + 1)/(2 + 2) = 0.5.
    assert weighted_quantile_loss(actual=np.array([2.0, 2.0]), quantiles=quantiles) == pytest.approx(0.5)
    assert weighted_quantile_loss(actual=np.zeros(2), quantiles=quantiles) is None


def test_mase_agrees_with_utilsforecast_on_a_real_series():
    import pandas as pd
    from utilsforecast.losses import mase as reference_mase

    air = series_load(name="air_passengers").values

    def ets(context, prediction_length, quantile_levels):
        return baseline_forecast(method="ets", series=context, prediction_length=prediction_length, season_length=12)

    result = backtest(forecaster=ets, series=air, prediction_length=12, windows=1, season_length=12, quantile_levels=[])
    forecast = ets([air[:-12]], 12, []).mean[0]
    frame = pd.DataFrame({"unique_id": "air", "ds": np.arange(132, 144), "y": air[-12:], "ets": forecast})
    train = pd.DataFrame({"unique_id": "air", "ds": np.arange(132), "y": air[:-12]})
    expected = reference_mase(frame, models=["ets"], seasonality=12, train_df=train)["ets"].iloc[0]
    assert result.model.mase == pytest.approx(expected, rel=1e-9)


def test_several_variates_are_scored_together():
    air = series_load(name="air_passengers").values
    two = np.stack([air, air * 0.5 + 10])
    result = backtest(forecaster=last_value_with_band, series=two, prediction_length=6, windows=2, season_length=12)
    assert result.variates == 2 and result.quantile_levels == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    assert result.model.mase > 0 and result.model.wql > 0


def test_as_dict_is_json_ready_with_none_where_undefined():
    flat_then_moving = np.array([5.0] * 10 + [1.0, 2.0])

    def no_quantiles(context, prediction_length, quantile_levels):
        return ForecastOutput(mean=np.array([[row[-1]] * prediction_length for row in context]))

    result = backtest(forecaster=no_quantiles, series=flat_then_moving, prediction_length=2, windows=1, season_length=1)
    data = json.loads(json.dumps(result.as_dict()))
    assert data["model"] == {"mase": None, "wql": None}  # constant history: scale 0; no quantiles
    assert data["relative"]["mase"] is None
    assert any("MASE undefined for 1" in w for w in data["warnings"])
    assert any("no quantiles" in w for w in data["warnings"])
    assert data["per_window"][0]["cutoff"] == 10


def test_a_forecaster_with_the_wrong_shape_is_an_error_not_a_score():
    def wrong(context, prediction_length, quantile_levels):
        return ForecastOutput(mean=np.zeros((1, prediction_length + 1)))

    with pytest.raises(ValueError, match=r"model returned a mean of shape \(1, 3\), expected \(1, 2\)"):
        backtest(forecaster=wrong, series=TINY, prediction_length=2, windows=1, season_length=1)


def test_forecaster_errors_propagate_unchanged():
    def failing(context, prediction_length, quantile_levels):
        raise RuntimeError("engine crashed")

    with pytest.raises(RuntimeError, match="engine crashed"):
        backtest(forecaster=failing, series=TINY, prediction_length=2, windows=1, season_length=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"windows": 3, "season_length": 2},
            r"series has 8 points; 3 window\(s\) of prediction_length=2 with season_length=2 need at least 9",
        ),
        ({"windows": 0}, "windows must be a positive integer"),
        ({"prediction_length": 0}, "prediction_length must be a positive integer"),
        ({"season_length": 0}, "season_length must be a positive integer"),
        ({"quantile_levels": [0.0]}, "strictly between 0 and 1"),
        ({"series": np.array([1.0, 2, np.nan, 4, 5, 6, 7, 8])}, "first at variate 0, position 2"),
        ({"series": np.zeros((2, 2, 2))}, r"shape \(T,\) or \(variates, T\)"),
        ({"series": np.array([])}, r"shape \(T,\) or \(variates, T\)"),
        ({"series": ["a", "b"]}, "not numeric"),
    ],
)
def test_bad_input_is_invalid_with_the_numbers(kwargs, message):
    arguments = {
        "forecaster": last_value_with_band,
        "series": TINY,
        "prediction_length": 2,
        "windows": 1,
        "season_length": 1,
    }
    arguments.update(kwargs)
    with pytest.raises(Invalid, match=message):
        backtest(**arguments)
