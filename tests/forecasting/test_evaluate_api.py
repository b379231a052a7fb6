"""POST /api/evaluate: a rolling-origin backtest of a model against seasonal naive (MASE, WQL)."""

import pytest

from apps.forecasting.series import series_load

pytestmark = [pytest.mark.django_db]


def test_seasonal_naive_scored_against_itself_has_a_relative_mase_of_one(api, forecast_store):
    passengers = series_load(name="air_passengers").values.tolist()
    body = {
        "model": "seasonal_naive",
        "input": [passengers],
        "prediction_length": 12,
        "windows": 2,
        "season_length": 12,
    }
    response = api.post("/api/evaluate", body)
    assert response.status_code == 200, response.json()
    result = response.json()
    assert (result["model_name"], result["windows"], result["season_length"]) == ("seasonal_naive", 2, 12)
    assert result["relative"]["mase"] == pytest.approx(1.0)
    assert [window["cutoff"] for window in result["per_window"]] == [len(passengers) - 24, len(passengers) - 12]


def test_ets_beats_seasonal_naive_on_the_real_airline_passengers(api, forecast_store):
    passengers = series_load(name="air_passengers").values.tolist()
    body = {"model": "ets", "input": [passengers], "prediction_length": 12, "windows": 2, "season_length": 12}
    result = api.post("/api/evaluate", body).json()
    assert result["model"]["mase"] < result["seasonal_naive"]["mase"]
    assert result["relative"]["mase"] < 1


@pytest.mark.ml
def test_a_pulled_model_is_backtested_window_by_window(api, pulled):
    pulled("chronos2")
    passengers = series_load(name="air_passengers").values.tolist()
    body = {"model": "chronos2", "input": [passengers], "prediction_length": 6, "windows": 3, "season_length": 12}
    result = api.post("/api/evaluate", body).json()
    assert len(result["per_window"]) == 3
    assert result["model"]["mase"] > 0 and result["model"]["wql"] > 0


def test_evaluating_a_model_not_pulled_is_404_with_the_hint(api, forecast_store):
    response = api.post("/api/evaluate", {"model": "timesfm", "input": [[1.0] * 50], "prediction_length": 2})
    assert response.status_code == 404 and "forecast_pull timesfm" in response.json()["error"]


def test_a_series_too_short_for_the_windows_is_400_with_the_numbers(api, forecast_store):
    body = {"model": "ets", "input": [[1.0, 2.0, 3.0] * 4], "prediction_length": 6, "windows": 2, "season_length": 2}
    response = api.post("/api/evaluate", body)
    assert response.status_code == 400 and "need at least 15" in response.json()["error"]
