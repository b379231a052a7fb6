"""What the user test of the forecast API (issue 17) found, each as the behaviour it must have now:
pulls served by the runtime process (hub offline there), the forecast_pull command, one season
for both sides of a backtest, non-finite values, the work cap, fine-tune name collisions, the
schema, and the smaller answers (baselines, job ids, null horizons, quantile keys, warnings, admin)."""

import json
import shutil
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from apps.core import jobs
from apps.core.models import Job
from apps.core.schema import surface_schema
from apps.forecasting import services
from apps.forecasting.models import FineTune, InstalledForecastModel
from apps.forecasting.outputs import ForecastOutput
from apps.forecasting.series import series_load
from apps.modelstore.models import DOWNLOAD_JOB_KIND, LocalModel
from project.surfaces import FORECAST

pytestmark = [pytest.mark.django_db]

SINE = [float(np.sin(step / 4) * 10 + 50) for step in range(96)]


# --- 1, 9: a pull from the forecast port while the runtime process keeps the hub offline ------------


def test_a_pull_served_where_the_hub_is_offline_leaves_the_hub_to_the_download_job(api, forecast_store, monkeypatch):
    from huggingface_hub import constants

    # `manage.py runtime` serves the forecast surface with HF_HUB_OFFLINE=1, read at import into this constant.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    response = api.post("/api/pull", {"model": "chronos-bolt"})

    assert response.status_code == 200, response.json()
    installed = InstalledForecastModel.objects.get(name="chronos-bolt")
    assert response.json() == {"status": "started", "model": "chronos-bolt", "job_id": str(installed.job.id)}
    assert installed.job.kind == DOWNLOAD_JOB_KIND and installed.job.state == Job.State.PENDING

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # the worker is another process: online
    jobs.job_run(job_id=str(installed.job.id))

    assert Job.objects.get(pk=installed.job.id).state == Job.State.SUCCESS
    assert "chronos-bolt" in [row["name"] for row in api.get("/api/tags").json()["models"]]


def test_an_online_pull_still_checks_the_repository_before_any_job(api, forecast_store, monkeypatch):
    from apps.forecasting.models import ForecastCheckpoint

    ForecastCheckpoint.objects.filter(model__name="chronos-bolt").update(repo_id="amazon/no-such-repo")
    response = api.post("/api/pull", {"model": "chronos-bolt"})
    assert response.status_code == 404
    assert not Job.objects.filter(kind=DOWNLOAD_JOB_KIND).exists()


# --- 2: the forecast_pull command ---------------------------------------------------------------------


def test_forecast_pull_takes_a_model_version_and_starts_the_download(forecast_store):
    out = StringIO()
    call_command("forecast_pull", "chronos-bolt", "--model-version", "1.0", "--params", "tiny", stdout=out)

    installed = InstalledForecastModel.objects.get(name="chronos-bolt")
    assert f"chronos-bolt: download started (job {installed.job.id})" in out.getvalue()
    assert installed.checkpoint.version == "1.0" and installed.checkpoint.params == "tiny"


# --- 3, 13: one season length on both sides of a backtest ----------------------------------------------


def test_evaluate_without_a_season_length_infers_one_for_both_sides_and_says_so(api, forecast_store):
    passengers = series_load(name="air_passengers").values.tolist()
    body = {"model": "seasonal_naive", "input": [passengers], "prediction_length": 12, "windows": 2}

    result = api.post("/api/evaluate", body).json()

    assert result["season_length"] == 12
    assert result["relative"]["mase"] == pytest.approx(1.0)  # seasonal naive no longer "beats itself"
    assert result["warnings"][0].startswith("season_length not given: inferred 12")


def test_evaluate_on_an_all_zero_series_says_why_wql_is_undefined(api, forecast_store):
    body = {"model": "seasonal_naive", "input": [[0.0] * 40], "prediction_length": 4, "windows": 2}
    result = api.post("/api/evaluate", body).json()
    assert result["model"]["wql"] is None and result["seasonal_naive"]["wql"] is None
    assert any("WQL undefined" in warning and "all 0" in warning for warning in result["warnings"])


# --- 4: values no model can fit, and outputs that are not finite ---------------------------------------


@pytest.mark.parametrize("method", ["ets", "theta"])
def test_values_near_the_float_range_are_400_saying_no_model_could_be_fitted(api, forecast_store, method):
    response = api.post("/api/forecast", {"model": method, "input": [[1.7e308, -1.7e308] * 10], "prediction_length": 3})
    assert response.status_code == 400
    assert "no candidate model could be fitted" in response.json()["error"]


def test_a_forecast_with_non_finite_values_is_a_500_naming_them(api, forecast_store, monkeypatch):
    def overflowing(**arguments: object) -> ForecastOutput:
        return ForecastOutput(mean=np.array([[1.0, np.inf, np.nan]]))

    monkeypatch.setattr(services, "baseline_forecast", overflowing)
    response = api.post("/api/forecast", {"model": "ets", "input": [SINE], "prediction_length": 3})

    assert response.status_code == 500
    assert response.json() == {
        "error": "model 'ets' produced non-finite values (2 in its mean, the first at variate 0, step 1: inf); "
        "the input's scale may be past what it handles"
    }


# --- 5: the work one request may cause ---------------------------------------------------------------


def test_a_request_past_the_work_limit_is_400_with_the_numbers(api, forecast_store, settings):
    settings.MODELYARD_FORECAST_MAX_POINTS = 10_000
    response = api.post("/api/forecast", {"model": "ets", "input": [SINE] * 200, "prediction_length": 4})
    assert response.status_code == 400
    assert response.json()["error"].startswith(
        "this request is 20000 points of work (200 variate(s) × (96 input + 4 predicted)); the limit is 10000"
    )
    evaluate = api.post("/api/evaluate", {"model": "ets", "input": [SINE] * 50, "prediction_length": 4, "windows": 3})
    assert evaluate.status_code == 400 and "3 forecasts × 50 variate(s)" in evaluate.json()["error"]
    assert api.post("/api/forecast", {"model": "ets", "input": [SINE] * 2, "prediction_length": 4}).status_code == 200


# --- 6: fine-tune output names -----------------------------------------------------------------------


@pytest.fixture
def cpu_csv(settings, forecast_store, tmp_path) -> Path:
    folder = tmp_path / "forecast-data"
    folder.mkdir()
    settings.MODELYARD_FORECAST_DATA_DIRS = [str(folder)]
    hours = [
        f"2024-01-{1 + hour // 24:02d}T{hour % 24:02d}:00:00,{40 + 20 * np.sin(hour / 4):.3f}" for hour in range(72)
    ]
    path = folder / "cpu.csv"
    path.write_text("\n".join(["timestamp,cpu", *hours]) + "\n")
    return path


def finetune_body(path: Path, **fields: object) -> dict:
    return {
        "output_model": "my-model",
        "data_path": str(path),
        "targets": ["cpu"],
        "steps": 1,
        "prediction_length": 8,
        **fields,
    }


def test_a_second_finetune_to_a_running_output_model_is_409(api, pulled, cpu_csv):
    pulled("chronos2")
    first = api.post("/api/finetune", finetune_body(cpu_csv))
    assert first.status_code == 200, first.json()

    second = api.post("/api/finetune", finetune_body(cpu_csv, overwrite=True))

    assert second.status_code == 409
    assert second.json()["error"].startswith(f"fine-tune {first.json()['job_id']} is already writing 'my-model'")
    assert FineTune.objects.count() == 1


def test_an_installed_output_model_is_replaced_only_with_overwrite_and_atomically(api, pulled, cpu_csv, monkeypatch):
    pulled("chronos2")

    def trained_copy(*, base_model_dir: Path, output_dir: Path, on_progress, **arguments: object) -> Path:
        """Training stands in: the base's files saved as the result (what is stored is what matters)."""
        on_progress(1, 1)
        saved = output_dir / "model"
        shutil.copytree(base_model_dir, saved)
        config = json.loads((saved / "config.json").read_text())
        (saved / "config.json").write_text(json.dumps({**config, "torch_dtype": "float32"}))
        return saved

    monkeypatch.setattr(services, "chronos2_finetune", trained_copy)

    def finetune(**fields: object) -> object:
        response = api.post("/api/finetune", finetune_body(cpu_csv, **fields))
        if response.status_code == 200:
            jobs.job_run(job_id=str(FineTune.objects.get(pk=int(response.json()["job_id"][3:])).job.id))
        return response

    assert finetune().status_code == 200
    first = InstalledForecastModel.objects.get(name="my-model")
    assert (first.model_id, first.variant) == ("forecasting/my-model", "f32")  # what was saved, not the base's f16

    refused = finetune()
    assert refused.status_code == 409
    assert refused.json() == {"error": "a model named 'my-model' is installed; send \"overwrite\": true to replace it"}

    replaced = finetune(overwrite=True)
    assert replaced.status_code == 200
    now = InstalledForecastModel.objects.get(name="my-model")
    assert now.model_id == f"forecasting/my-model.{replaced.json()['job_id']}"
    assert not LocalModel.objects.filter(source="local", model_id="forecasting/my-model").exists()
    assert Path(LocalModel.objects.get(source="local", model_id=now.model_id).path).is_dir()
    assert api.get("/api/finetune/status", id=replaced.json()["job_id"]).json()["status"] == "completed"


@pytest.mark.parametrize("name", ["a--b", "name.", "x" * 65, "a/b"])
def test_an_output_model_that_cannot_name_a_stored_model_is_400(api, cpu_csv, name):
    response = api.post("/api/finetune", finetune_body(cpu_csv, output_model=name))
    assert response.status_code == 400 and "output_model" in response.json()["error"]


# --- 7: the schema -------------------------------------------------------------------------------------


def test_the_forecast_schema_declares_the_delete_body_readable_names_and_error_statuses():
    schema = surface_schema(FORECAST.urlconf)
    delete = schema["paths"]["/api/delete"]["delete"]
    forecast = schema["paths"]["/api/forecast"]["post"]

    assert delete["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ModelNameRequest"
    }
    assert not [name for name in schema["components"]["schemas"] if "RequestRequest" in name]
    assert "ForecastRequest" in schema["components"]["schemas"]
    assert "default" not in forecast["responses"]
    for status in ("400", "404", "500"):
        assert forecast["responses"][status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
    assert "409" in schema["paths"]["/api/finetune"]["post"]["responses"]
    assert "job_id" in schema["components"]["schemas"]["PullStarted"]["properties"]


# --- 8, 10, 11, 12: smaller answers --------------------------------------------------------------------


def test_pulling_a_baseline_is_400_saying_there_is_nothing_to_pull(api, forecast_store):
    response = api.post("/api/pull", {"model": "ets"})
    assert response.status_code == 400
    assert response.json() == {"error": "'ets' is a built-in statistical baseline; nothing to pull"}


def test_ets_with_a_season_longer_than_the_series_warns_that_it_fitted_no_season(api, forecast_store):
    body = {"model": "ets", "input": [SINE[:10]], "prediction_length": 2, "season_length": 100}
    answer = api.post("/api/forecast", body).json()
    assert answer["warnings"] == [
        "series 0: ets fitted a non-seasonal model: 10 points do not hold one full season of season_length=100 "
        "(it needs more than 100)"
    ]


def test_a_null_prediction_length_is_the_default_of_one(api, forecast_store):
    response = api.post("/api/forecast", {"model": "seasonal_naive", "input": [SINE], "prediction_length": None})
    assert response.status_code == 200, response.json()
    assert len(response.json()["mean"][0]) == 1


def test_quantiles_are_keyed_by_the_levels_as_sent(api, forecast_store):
    body = {"model": "ets", "input": [SINE], "prediction_length": 2, "quantiles": [0.123456789, 0.5, 0.9]}
    assert sorted(api.post("/api/forecast", body).json()["quantiles"]) == ["0.123456789", "0.5", "0.9"]


# --- 14: the admin ---------------------------------------------------------------------------------------


def test_installed_models_cannot_be_added_by_hand_in_the_admin(admin_client):
    assert admin_client.get("/admin/forecasting/installedforecastmodel/add/").status_code == 403


def test_ragged_covariates_are_400_naming_the_short_one(api, forecast_store):
    body = {"model": "ets", "input": [SINE], "prediction_length": 2, "future_exogenous": [[1.0, 2.0], [1.0]]}
    response = api.post("/api/forecast", body)
    assert response.status_code == 400
    assert response.json()["error"].startswith("future_exogenous[1] has 1 values")
