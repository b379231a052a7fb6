"""ML requests without the live server: request size limits (refused before anything is queued),
score jobs that stop between batches when cancelled, `-latest` and `overwrite` with a backend, and
staging folders that a killed save left behind. Jobs run in this process with `jobs.job_run`; this
test's transaction hides them from any worker of the package's live server."""

import os
import time

import pytest

from apps.core import jobs
from apps.core.models import Job
from apps.ml import services, storage
from apps.ml.anomaly import Detector

pytestmark = pytest.mark.django_db

TEMPERATURES = [[22.1], [23.5], [21.8], [24.2], [22.7], [23.1], [21.5], [24.8], [22.3], [23.9]]


@pytest.fixture(autouse=True)
def ml_home(settings, tmp_path):
    settings.MODELYARD_HOME = tmp_path
    return tmp_path


def fitted(name: str, *, backend: str = "isolation_forest", overwrite: bool = False) -> str:
    """Fit and save a detector in this process (as a worker would); its saved name."""
    return services.anomaly_fit_run(
        base_name=name,
        backend=backend,
        data=TEMPERATURES,
        schema=None,
        contamination=0.1,
        normalization="standardization",
        overwrite=overwrite,
    )["versioned_name"]


# --- request size limits ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "setting", "words"),
    [
        (
            "/v1/ml/classifier/fit",
            {"model": "big", "training_data": [{"text": f"t{i}", "label": f"l{i % 2}"} for i in range(4)]},
            "MODELYARD_ML_MAX_TEXTS",
            "4 training examples",
        ),
        (
            "/v1/ml/classifier/predict",
            {"model": "big", "texts": ["a", "b", "c", "d"]},
            "MODELYARD_ML_MAX_TEXTS",
            "4 texts",
        ),
        ("/v1/ml/anomaly/fit", {"data": [[1.0], [2.0], [3.0], [4.0]]}, "MODELYARD_ML_MAX_POINTS", "4 data points"),
        ("/v1/ml/anomaly/score", {"model": "big", "data": [[1.0]] * 4}, "MODELYARD_ML_MAX_POINTS", "4 data points"),
        ("/v1/ml/anomaly/detect", {"model": "big", "data": [[1.0]] * 4}, "MODELYARD_ML_MAX_POINTS", "4 data points"),
    ],
)
def test_a_request_past_its_size_limit_is_a_400_naming_the_setting(client, settings, path, body, setting, words):
    setattr(settings, setting, 3)
    queued = Job.objects.count()

    response = client.post(path, body, content_type="application/json")

    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert words in detail and "the limit is 3" in detail and setting in detail
    assert Job.objects.count() == queued  # refused before anything was queued


# --- JSON types are strict: a wrong type is refused, never converted --------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/ml/classifier/predict", {"model": "m", "texts": [1, 2]}, "texts"),
        ("/v1/ml/classifier/fit", {"model": 7, "training_data": [{"text": "a", "label": "b"}]}, "model"),
        ("/v1/ml/classifier/fit", {"model": "m", "training_data": [{"text": "a", "label": 1}]}, "training_data"),
        ("/v1/ml/classifier/fit", {"model": "m", "training_data": [], "num_iterations": "20"}, "num_iterations"),
        ("/v1/ml/classifier/fit", {"model": "m", "training_data": [], "num_iterations": 2.5}, "num_iterations"),
        ("/v1/ml/anomaly/fit", {"data": [[1.0], [2.0]], "overwrite": "yes"}, "overwrite"),
        ("/v1/ml/anomaly/fit", {"data": [[1.0], [2.0]], "contamination": "0.1"}, "contamination"),
        ("/v1/ml/anomaly/fit", {"data": [[1.0], [2.0]], "contamination": True}, "contamination"),
        ("/v1/ml/anomaly/score", {"model": "m", "data": [[1.0]], "threshold": "0.5"}, "threshold"),
    ],
)
def test_a_value_of_the_wrong_json_type_is_a_422_naming_its_field(client, path, body, field):
    response = client.post(path, body, content_type="application/json")

    assert response.status_code == 422, response.content
    assert field in str(response.json()["detail"])


# --- score jobs: batches, cancellation, a small row ----------------------------------------------


def score_job(name: str, points: int) -> Job:
    return jobs.job_enqueue(
        kind=services.JOB_KINDS["anomaly_score"],
        func="apps.ml.tasks.anomaly_score",
        params={
            "name": name,
            "data": [[20.0 + i % 7] for i in range(points)],
            "threshold": None,
            "normalization": None,
        },
    )


def test_a_score_job_reports_progress_per_batch_and_its_row_can_be_trimmed(monkeypatch):
    monkeypatch.setattr(services, "SCORE_BATCH", 10)
    name = fitted("batches")
    job = score_job(name, 35)

    jobs.job_run(job_id=str(job.id))

    job.refresh_from_db()
    assert job.state == Job.State.SUCCESS
    assert (job.progress_current, job.progress_total) == (35, 35)
    assert len(job.result["scores"]) == 35 and len(job.result["raw"]) == 35
    jobs.job_payload_trim(job_id=job.id, max_items=20)
    job.refresh_from_db()
    assert job.params["data"] == {"items": 35, "trimmed": True} and job.params["name"] == name
    assert job.result["scores"] == {"items": 35, "trimmed": True} and job.result["normalization"] == "standardization"


def test_a_cancelled_score_job_stops_at_the_next_batch(monkeypatch):
    monkeypatch.setattr(services, "SCORE_BATCH", 10)
    name = fitted("cancelled")
    job = score_job(name, 50)
    batches = []
    original = Detector.raw_scores

    def raw_scores_then_cancel(self, rows):
        batches.append(len(rows))
        Job.objects.filter(pk=job.pk).update(cancel_requested=True)  # someone cancels during the first batch
        return original(self, rows)

    monkeypatch.setattr(Detector, "raw_scores", raw_scores_then_cancel)

    jobs.job_run(job_id=str(job.id))

    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED
    assert batches == [10]  # the other four batches never ran


def test_an_active_jobs_payload_is_never_trimmed():
    job = score_job("anything", 200)

    jobs.job_payload_trim(job_id=job.id, max_items=20)

    job.refresh_from_db()
    assert len(job.params["data"]) == 200  # a worker still needs it


# --- `-latest` and `overwrite` with a backend ------------------------------------------------------


def test_latest_with_a_backend_resolves_the_newest_version_of_that_backend(client):
    forest = fitted("sensor", backend="isolation_forest")
    ecod = fitted("sensor", backend="ecod")  # newer, another backend
    assert forest != ecod

    def saved_as(body):
        response = client.post("/v1/ml/anomaly/save", body, content_type="application/json")
        assert response.status_code == 200, response.content
        return response.json()

    assert saved_as({"model": "sensor-latest"})["model"] == ecod
    assert saved_as({"model": "sensor-latest", "backend": "isolation_forest"})["model"] == forest
    assert saved_as({"model": "sensor-latest", "backend": "ecod"})["backend"] == "ecod"
    response = client.post(
        "/v1/ml/anomaly/save", {"model": "sensor-latest", "backend": "knn"}, content_type="application/json"
    )
    assert response.status_code == 404 and "no matching anomaly model" in response.json()["detail"]
    response = client.post(
        "/v1/ml/anomaly/save", {"model": "sensor-latest", "backend": "magic"}, content_type="application/json"
    )
    assert response.status_code == 400 and "unknown backend" in response.json()["detail"]


def test_overwrite_never_replaces_a_detector_of_another_backend(client):
    fitted("plant", backend="isolation_forest", overwrite=True)
    queued = Job.objects.count()

    response = client.post(
        "/v1/ml/anomaly/fit",
        {"model": "plant", "backend": "ecod", "data": TEMPERATURES, "overwrite": True},
        content_type="application/json",
    )

    assert response.status_code == 409, response.content
    detail = response.json()["detail"]
    assert "isolation_forest detector" in detail and "plant_isolation_forest.pkl" in detail
    assert Job.objects.count() == queued
    assert storage.saved_get("anomaly", "plant").info["backend"] == "isolation_forest"  # untouched


# --- staging folders ------------------------------------------------------------------------------------


def test_a_save_removes_staging_folders_a_killed_process_left_behind():
    root = storage.kind_root("anomaly")
    stale_partial = root / ".old-fit.0123456789ab.partial"
    stale_swap = root / ".old-fit.0123456789ab.old"
    fresh = root / ".running-fit.0123456789ab.partial"  # another process is saving right now
    for folder in (stale_partial, stale_swap, fresh):
        folder.mkdir()
        (folder / "detector.pkl").write_bytes(b"half written")
    an_hour_ago = time.time() - storage.STAGING_STALE_S - 60
    for folder in (stale_partial, stale_swap):
        os.utime(folder, (an_hour_ago, an_hour_ago))

    name = fitted("after-a-crash")

    assert not stale_partial.exists() and not stale_swap.exists()
    assert fresh.exists()
    assert [saved.name for saved in storage.saved_list("anomaly")] == [name]  # hidden folders are never models
