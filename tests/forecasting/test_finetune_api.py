"""POST /api/finetune and GET /api/finetune/status: a tiny Chronos-2 fine-tuned for a few steps
through the API (its job run here as a worker would), listed by /api/tags and used by
/api/forecast; every refusal made before any training."""

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from apps.core import jobs
from apps.core.models import Job
from apps.forecasting.models import FineTune
from apps.modelstore.models import LocalModel

pytestmark = [pytest.mark.django_db]

HOURS = 160


@pytest.fixture
def data_dir(settings, forecast_store, tmp_path) -> Path:
    folder = tmp_path / "forecast-data"
    folder.mkdir()
    settings.MODELYARD_FORECAST_DATA_DIRS = [str(folder)]
    return folder


@pytest.fixture
def cpu_csv(data_dir) -> Path:
    """Hourly CPU usage with a daily cycle and a holiday flag (known in advance), no gaps."""
    start = datetime(2024, 1, 1)
    rng = np.random.default_rng(0)
    lines = ["timestamp,cpu_usage,is_holiday"]
    for hour in range(HOURS):
        holiday = int((hour // 24) % 7 == 6)
        usage = 40 + 20 * np.sin(2 * np.pi * hour / 24) - 15 * holiday + rng.normal(0, 2)
        lines.append(f"{(start + timedelta(hours=hour)).isoformat()},{usage:.3f},{holiday}")
    path = data_dir / "cpu.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def finetune_body(path: Path, **fields: object) -> dict:
    return {
        "output_model": "my-model",
        "data_path": str(path),
        "targets": ["cpu_usage"],
        "exogenous": ["is_holiday"],
        "steps": 3,
        "prediction_length": 8,
        "batch_size": 4,
        "learning_rate": 1e-4,
        **fields,
    }


@pytest.mark.ml
def test_a_finetune_runs_as_a_job_and_its_model_is_listed_and_forecasts(api, pulled, cpu_csv):
    pulled("chronos2")

    started = api.post("/api/finetune", finetune_body(cpu_csv))

    assert started.status_code == 200, started.json()
    job_id = started.json()["job_id"]
    assert started.json() == {"job_id": job_id, "status": "running"} and job_id.startswith("ft-")
    running = api.get("/api/finetune/status", id=job_id).json()
    assert (running["status"], running["output_model"], running["error"]) == ("running", "my-model", None)

    finetune = FineTune.objects.get(pk=int(job_id.removeprefix("ft-")))
    jobs.job_run(job_id=str(finetune.job.id))

    done = api.get("/api/finetune/status", id=job_id).json()
    assert done == {
        "job_id": job_id,
        "status": "completed",
        "output_model": "my-model",
        "error": None,
        "steps_done": 3,
        "steps_total": 3,
    }
    entry = LocalModel.objects.get(source="local", model_id="forecasting/my-model")
    tags = api.get("/api/tags").json()["models"]
    assert {"name": "my-model", "architecture": "chronos2", "size_bytes": entry.size_bytes} in tags
    body = {"model": "my-model", "input": [[40.0 + 20 * np.sin(2 * np.pi * h / 24) for h in range(96)]]}
    forecast = api.post("/api/forecast", {**body, "prediction_length": 8})
    assert forecast.status_code == 200, forecast.json()
    assert len(forecast.json()["mean"][0]) == 8


@pytest.mark.ml
def test_a_finetune_whose_data_vanished_fails_with_the_reason(api, pulled, cpu_csv):
    pulled("chronos2")
    job_id = api.post("/api/finetune", finetune_body(cpu_csv)).json()["job_id"]
    cpu_csv.unlink()

    jobs.job_run(job_id=str(FineTune.objects.get(pk=int(job_id[3:])).job.id))

    status = api.get("/api/finetune/status", id=job_id).json()
    assert status["status"] == "failed" and str(cpu_csv) in status["error"]
    assert Job.objects.get(pk=FineTune.objects.get(pk=int(job_id[3:])).job.id).traceback == ""


def test_a_non_chronos2_base_is_400_saying_it_has_no_finetuning_path(api, cpu_csv):
    for base in ("chronos-bolt", "timesfm", "ets"):
        response = api.post("/api/finetune", finetune_body(cpu_csv, base_model=base))
        assert response.status_code == 400
        assert "fine-tuning path" in response.json()["error"], base


def test_a_base_not_pulled_is_404_with_the_pull_hint(api, cpu_csv):
    response = api.post("/api/finetune", finetune_body(cpu_csv))
    assert response.status_code == 404
    assert "run: manage.py forecast_pull chronos2" in response.json()["error"]


@pytest.mark.ml
def test_data_outside_the_allowed_folders_is_400(api, pulled, cpu_csv, tmp_path):
    pulled("chronos2")
    outside = tmp_path / "elsewhere.csv"
    outside.write_text(cpu_csv.read_text())
    for path in (str(outside), "relative.csv", str(cpu_csv.parent / ".." / "elsewhere.csv")):
        response = api.post("/api/finetune", finetune_body(Path(path)))
        assert response.status_code == 400, path
        assert "data_path" in response.json()["error"]
    link = cpu_csv.parent / "link.csv"
    link.symlink_to(outside)
    response = api.post("/api/finetune", finetune_body(link))
    assert response.status_code == 400 and "outside the folders" in response.json()["error"]


@pytest.mark.ml
def test_a_csv_that_cannot_train_is_400_before_any_job(api, pulled, cpu_csv):
    pulled("chronos2")
    before = Job.objects.count()
    missing = api.post("/api/finetune", finetune_body(cpu_csv, targets=["memory"]))
    assert missing.status_code == 400 and "memory" in missing.json()["error"]
    short = api.post("/api/finetune", finetune_body(cpu_csv, prediction_length=HOURS))
    assert short.status_code == 400
    lines = cpu_csv.read_text().splitlines()
    cpu_csv.write_text("\n".join(lines[:50] + lines[52:]) + "\n")  # two hours missing
    gap = api.post("/api/finetune", finetune_body(cpu_csv))
    assert gap.status_code == 400 and "gap" in gap.json()["error"].lower()
    assert Job.objects.count() == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"output_model": "chronos2"}, "name of a registry model"),
        ({"output_model": "ets"}, "name of a registry model"),
        ({"output_model": "../escape"}, "output_model may hold only"),
        ({"targets": []}, "targets"),
        ({"steps": 0}, "steps"),
        ({"mode": "qlora"}, "mode"),
    ],
)
def test_invalid_finetune_requests_are_400(api, cpu_csv, fields, message):
    response = api.post("/api/finetune", finetune_body(cpu_csv, **fields))
    assert response.status_code == 400
    assert message in response.json()["error"]


@pytest.mark.parametrize("job_id", ["ft-999999", "nope", "ft-", "ft-1x"])
def test_the_status_of_an_unknown_job_is_404(api, forecast_store, job_id):
    response = api.get("/api/finetune/status", id=job_id)
    assert response.status_code == 404
    assert response.json() == {"error": f"fine-tune job '{job_id}' not found"}


def test_the_status_without_an_id_is_400(api, forecast_store):
    assert api.get("/api/finetune/status").status_code == 400
