"""specs/forecast-api.txt on the forecast surface: tags, pull, show, delete and forecast, with the
statistical baselines (no download) and tiny Chronos-2, Chronos-Bolt, TimesFM 2.5 and Toto 1.0
models pulled offline from the test hub through the model store; every error of the spec."""

from pathlib import Path

import numpy as np
import pytest

from apps.core.models import Job
from apps.forecasting.models import InstalledForecastModel
from apps.forecasting.residency import forecast_residency
from apps.forecasting.series import series_load
from apps.modelstore.models import DOWNLOAD_JOB_KIND, LocalModel
from tests.forecasting.conftest import BOLT_REPO, CHRONOS2_REPO, TOTO2_REPO

pytestmark = [pytest.mark.django_db]

BASELINE_TAGS = [
    {"name": "seasonal_naive", "architecture": "statistical", "size_bytes": 0},
    {"name": "ets", "architecture": "statistical", "size_bytes": 0},
    {"name": "theta", "architecture": "statistical", "size_bytes": 0},
]
SINE = [float(np.sin(step / 4) * 10 + 50) for step in range(96)]


def test_the_health_of_the_forecast_surface(api, settings):
    assert api.get("/health").json() == {"status": "ok", "version": settings.MODELYARD_VERSION}


def test_a_fresh_install_lists_the_statistical_baselines_with_no_download(api, forecast_store):
    response = api.get("/api/tags")
    assert response.status_code == 200
    assert response.json() == {"models": BASELINE_TAGS}


def test_seasonal_naive_forecasts_the_last_season_of_the_real_airline_passengers(api, forecast_store):
    passengers = series_load(name="air_passengers").values
    body = {"model": "seasonal_naive", "input": [passengers.tolist()], "prediction_length": 12, "season_length": 12}
    response = api.post("/api/forecast", body)
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert answer["model"] == "seasonal_naive" and isinstance(answer["inference_time_ms"], int)
    assert answer["mean"] == [passengers[-12:].tolist()]  # 1960's months, the real figures


def test_ets_follows_the_airline_passengers_growth_with_ordered_quantiles(api, forecast_store):
    passengers = series_load(name="air_passengers").values
    body = {
        "model": "ets",
        "input": [passengers[:-12].tolist()],
        "prediction_length": 12,
        "season_length": 12,
        "quantiles": [0.1, 0.9],
    }
    answer = api.post("/api/forecast", body).json()
    mean = np.array(answer["mean"][0])
    actual = passengers[-12:]
    assert np.mean(np.abs(mean - actual)) / np.mean(actual) < 0.1  # within 10 % of what 1960 really was
    assert np.all(np.array(answer["quantiles"]["0.1"][0]) <= mean) and np.all(mean <= answer["quantiles"]["0.9"][0])


def test_a_baseline_with_covariates_forecasts_and_says_they_were_ignored(api, forecast_store):
    body = {"model": "theta", "input": [SINE], "prediction_length": 2, "future_exogenous": [[1, 0]]}
    answer = api.post("/api/forecast", body).json()
    assert len(answer["mean"][0]) == 2
    assert any("ignored" in warning for warning in answer["warnings"])


@pytest.mark.ml
def test_pull_downloads_chronos2_through_the_store_and_tags_show_it(api, pulled, forecast_store):
    started = pulled("chronos2")
    assert started == {"status": "started", "model": "chronos2", "job_id": started["job_id"]}
    assert started["job_id"] == str(InstalledForecastModel.objects.get(name="chronos2").job.id)

    installed = InstalledForecastModel.objects.get(name="chronos2")
    assert installed.job.kind == DOWNLOAD_JOB_KIND and installed.job.state == Job.State.SUCCESS
    entry = LocalModel.objects.get(source="huggingface", model_id=CHRONOS2_REPO)
    tags = api.get("/api/tags").json()["models"]
    assert tags[0] == {"name": "chronos2", "architecture": "chronos2", "size_bytes": entry.size_bytes}
    assert tags[1:] == BASELINE_TAGS
    shown = api.post("/api/show", {"model": "chronos2"}).json()
    assert shown == {
        "name": "chronos2",
        "architecture": "chronos2",
        "size_bytes": entry.size_bytes,
        "path": str(forecast_store / "huggingface" / "autogluon" / "chronos-2-small"),
    }
    # A second pull finds the files in the store: no new download job.
    assert api.post("/api/pull", {"model": "chronos2"}).json() == {
        "status": "started",
        "model": "chronos2",
        "job_id": None,
    }
    assert InstalledForecastModel.objects.get(name="chronos2").job is None


@pytest.mark.ml
def test_chronos2_forecasts_every_variate_with_quantiles_and_stays_resident(api, pulled):
    pulled("chronos2")
    body = {"model": "chronos2", "input": [SINE, SINE[::-1]], "prediction_length": 8, "quantiles": [0.1, 0.5, 0.9]}
    first = api.post("/api/forecast", body)
    assert first.status_code == 200, first.json()
    answer = first.json()
    assert np.array(answer["mean"]).shape == (2, 8)
    assert sorted(answer["quantiles"]) == ["0.1", "0.5", "0.9"]
    np.testing.assert_allclose(answer["quantiles"]["0.5"], answer["mean"])  # Chronos-2's point forecast is the median
    assert all(np.array(values).shape == (2, 8) for values in answer["quantiles"].values())
    assert "warnings" not in answer
    loaded = forecast_residency().residents()
    assert [resident["id"] for resident in loaded] == ["chronos2"]

    api.post("/api/forecast", body)
    assert forecast_residency().residents()[0]["loaded_at"] == loaded[0]["loaded_at"]  # not loaded again


@pytest.mark.ml
def test_chronos2_uses_covariates_and_says_when_their_history_is_unknown(api, pulled):
    pulled("chronos2")
    future = [[1.0, 0.0, 1.0, 0.0]]
    without_past = {"model": "chronos2", "input": [SINE], "prediction_length": 4, "future_exogenous": future}
    answer = api.post("/api/forecast", without_past).json()
    assert len(answer["mean"][0]) == 4
    assert "treated as missing values" in answer["warnings"][0]

    with_past = {**without_past, "past_exogenous": [[float(step % 2) for step in range(96)]]}
    answer = api.post("/api/forecast", with_past).json()
    assert len(answer["mean"][0]) == 4 and "warnings" not in answer


@pytest.mark.ml
def test_a_horizon_past_the_models_limit_is_unrolled_with_a_warning(api, pulled):
    pulled("chronos2")
    answer = api.post("/api/forecast", {"model": "chronos2", "input": [SINE], "prediction_length": 70}).json()
    assert len(answer["mean"][0]) == 70
    assert "exceeds chronos2's horizon of 64 steps" in answer["warnings"][0]


@pytest.mark.ml
def test_chronos_bolt_drops_covariates_and_unrolls_past_its_horizon_saying_so(api, pulled, forecast_store):
    pulled("chronos-bolt")
    assert LocalModel.objects.filter(model_id=BOLT_REPO).exists()
    body = {"model": "chronos-bolt", "input": [SINE, SINE], "prediction_length": 20, "future_exogenous": [[0] * 20]}
    answer = api.post("/api/forecast", body).json()
    assert np.array(answer["mean"]).shape == (2, 20)
    assert "chronos-bolt takes no covariates" in answer["warnings"][0]
    assert "exceeds chronos-bolt's horizon of 16 steps" in answer["warnings"][1]


@pytest.mark.ml
def test_timesfm_forecasts_a_true_mean_and_drops_covariates_saying_why(api, pulled):
    pulled("timesfm")
    body = {
        "model": "timesfm",
        "input": [SINE],
        "prediction_length": 5,
        "future_exogenous": [[1, 2, 3, 4, 5]],
        "quantiles": [0.25, 0.9],
    }
    answer = api.post("/api/forecast", body).json()
    assert np.array(answer["mean"]).shape == (1, 5)
    assert sorted(answer["quantiles"]) == ["0.25", "0.9"]
    assert "timesfm[xreg]" in answer["warnings"][0]
    assert api.get("/api/tags").json()["models"][0] == {
        "name": "timesfm",
        "architecture": "timesfm",
        "size_bytes": LocalModel.objects.get(model_id="google/timesfm-2.5-200m-pytorch").size_bytes,
    }


@pytest.mark.ml
def test_toto_1_forecasts_a_multivariate_series_with_its_exogenous_history(api, pulled):
    assert pulled("toto", version="1.0")["model"] == "toto"
    body = {
        "model": "toto",
        "input": [SINE, SINE[::-1]],
        "prediction_length": 4,
        "future_exogenous": [[0, 1, 1, 0]],
        "past_exogenous": [[float(step % 2) for step in range(96)]],
        "quantiles": [0.1],
    }
    answer = api.post("/api/forecast", body).json()
    assert np.array(answer["mean"]).shape == (2, 4) and np.array(answer["quantiles"]["0.1"]).shape == (2, 4)
    assert "warnings" not in answer

    del body["past_exogenous"]
    answer = api.post("/api/forecast", body).json()
    assert "send past_exogenous" in answer["warnings"][0]


@pytest.mark.ml
def test_toto_2_is_the_default_toto_and_forecasts_quantiles_with_masked_covariate_history(api, pulled):
    assert pulled("toto")["model"] == "toto"  # no flags: 2.0, 4m, f32
    assert LocalModel.objects.filter(model_id=TOTO2_REPO).exists()
    assert api.get("/api/tags").json()["models"][0]["architecture"] == "toto2"
    body = {"model": "toto", "input": [SINE, SINE[::-1]], "prediction_length": 12, "quantiles": [0.1, 0.5]}
    answer = api.post("/api/forecast", {**body, "future_exogenous": [[1] * 12]}).json()
    assert np.array(answer["mean"]).shape == (2, 12)
    np.testing.assert_allclose(answer["quantiles"]["0.5"], answer["mean"])  # its point forecast is the median
    assert "history was masked as unknown" in answer["warnings"][0]
    with_past = {**body, "future_exogenous": [[1] * 12], "past_exogenous": [[1.0] * 96]}
    assert "warnings" not in api.post("/api/forecast", with_past).json()


def test_toto_2_in_f16_is_400_saying_it_ships_f32_only(api, forecast_store):
    response = api.post("/api/pull", {"model": "toto", "version": "2.0", "params": "1b", "variant": "f16"})
    assert response.status_code == 400
    assert "Toto 2.0 ships f32 weights only" in response.json()["error"]


def test_an_unknown_model_or_combination_is_404_listing_what_exists(api, forecast_store):
    unknown = api.post("/api/pull", {"model": "prophet"})
    assert unknown.status_code == 404 and "known models: chronos-bolt, chronos2" in unknown.json()["error"]
    combination = api.post("/api/pull", {"model": "chronos2", "version": "2.0", "params": "7b"})
    assert combination.status_code == 404
    assert combination.json() == {
        "error": "model 'chronos2' version 2.0 has no parameter count '7b'; available: 2.0/28m (f16|f32), "
        "2.0/120m (f16|f32)"
    }


def test_a_model_not_pulled_is_404_with_the_pull_hint(api, forecast_store):
    for response in (
        api.post("/api/forecast", {"model": "toto", "input": [SINE]}),
        api.post("/api/show", {"model": "toto"}),
    ):
        assert response.status_code == 404
        assert response.json() == {
            "error": "model 'toto' not found — run: manage.py forecast_pull toto "
            '(or POST /api/pull {"model": "toto"})'
        }
    unknown = api.post("/api/forecast", {"model": "nothing", "input": [SINE]})
    assert unknown.status_code == 404 and "ready models: seasonal_naive, ets, theta" in unknown.json()["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": [[1, 2, 3]]}, "model"),
        ({"model": "ets"}, "input"),
        ({"model": "ets", "input": []}, "input"),
        ({"model": "ets", "input": [[1, 2, 3], [1, 2]]}, "same length"),
        ({"model": "ets", "input": [["a"]]}, "input"),
        ({"model": "ets", "input": [[1, 2, 3]], "prediction_length": 0}, "prediction_length"),
        (
            {"model": "ets", "input": [[1, 2, 3]], "prediction_length": 2, "future_exogenous": [[1]]},
            "prediction_length = 2",
        ),
        (
            {
                "model": "ets",
                "input": [[1, 2, 3]],
                "prediction_length": 1,
                "future_exogenous": [[1]],
                "past_exogenous": [[1]],
            },
            "as long as input",
        ),
        ({"model": "ets", "input": [[1, 2, 3]], "past_exogenous": [[1, 2, 3]]}, "send both"),
        ({"model": "ets", "input": [[1, 2, 3]], "quantiles": [1.5]}, "quantiles"),
        ({"model": "ets", "input": [[1, 2, 3]], "quantiles": [0.0]}, "strictly between 0 and 1"),
    ],
)
def test_invalid_forecast_requests_are_400_with_an_error_body(api, forecast_store, body, message):
    response = api.post("/api/forecast", body)
    assert response.status_code == 400
    assert list(response.json()) == ["error"] and message in response.json()["error"]


def test_a_body_that_is_not_json_is_400(api, forecast_store):
    response = api.client.post("/api/forecast", "{nope", content_type="application/json", SERVER_PORT=api.port)
    assert response.status_code == 400 and "error" in response.json()


@pytest.mark.ml
def test_delete_removes_the_files_and_the_model_then_forecast_is_404(api, pulled, forecast_store):
    pulled("chronos-bolt")
    api.post("/api/forecast", {"model": "chronos-bolt", "input": [SINE]})
    folder = Path(LocalModel.objects.get(model_id=BOLT_REPO).path)

    response = api.delete("/api/delete", {"model": "chronos-bolt"})

    assert response.json() == {"status": "deleted", "model": "chronos-bolt"}
    assert not folder.exists() and not LocalModel.objects.filter(model_id=BOLT_REPO).exists()
    assert forecast_residency().residents() == []
    assert api.get("/api/tags").json()["models"] == BASELINE_TAGS
    assert api.post("/api/forecast", {"model": "chronos-bolt", "input": [SINE]}).status_code == 404


def test_delete_of_an_unknown_model_is_404_and_of_a_baseline_400(api, forecast_store):
    assert api.delete("/api/delete", {"model": "toto"}).status_code == 404
    response = api.delete("/api/delete", {"model": "ets"})
    assert response.status_code == 400 and "built-in statistical baseline" in response.json()["error"]


def test_show_of_a_baseline_describes_it(api, forecast_store):
    assert api.post("/api/show", {"model": "theta"}).json() == {
        "name": "theta",
        "architecture": "statistical",
        "size_bytes": 0,
        "path": "",
    }


@pytest.mark.ml
def test_a_model_whose_files_are_corrupt_answers_500_with_the_reason_not_a_traceback(api, pulled):
    pulled("chronos-bolt")
    weights = Path(LocalModel.objects.get(model_id=BOLT_REPO).path) / "model.safetensors"
    weights.write_bytes(b"not weights")

    response = api.post("/api/forecast", {"model": "chronos-bolt", "input": [SINE]})

    assert response.status_code == 500
    assert response.json()["error"].startswith("cannot load chronos-bolt:")
    assert "Traceback" not in response.json()["error"]
