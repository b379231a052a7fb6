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


# --- the schema's request examples are valid requests ---------------------------------------------


@pytest.mark.parametrize(
    ("operation_id", "path", "status"),
    [
        # Valid fits: queued for a worker (none runs here), so 202 with the job's id.
        ("ml_classifier_fit", "/v1/ml/classifier/fit", 202),
        ("ml_anomaly_fit", "/v1/ml/anomaly/fit", 202),
        # Valid requests about models this fresh data directory does not hold.
        ("ml_classifier_predict", "/v1/ml/classifier/predict", 404),
        ("ml_classifier_save", "/v1/ml/classifier/save", 404),
        ("ml_classifier_load", "/v1/ml/classifier/load", 404),
        ("ml_anomaly_score", "/v1/ml/anomaly/score", 404),
        ("ml_anomaly_detect", "/v1/ml/anomaly/detect", 404),
        ("ml_anomaly_save", "/v1/ml/anomaly/save", 404),
        ("ml_anomaly_load", "/v1/ml/anomaly/load", 404),
    ],
)
def test_the_schemas_request_example_is_a_valid_request(client, settings, operation_id, path, status):
    from apps.core.schema import REQUEST_EXAMPLES

    settings.MODELYARD_ML_WAIT_S = 0.1
    response = client.post(path, REQUEST_EXAMPLES[operation_id], content_type="application/json")

    assert response.status_code == status, response.content


# --- names and fields ------------------------------------------------------------------------------


def test_a_name_too_long_for_its_version_suffix_says_so(client):
    name = "b" * 70
    response = client.post("/v1/ml/anomaly/fit", {"model": name, "data": TEMPERATURES}, content_type="application/json")
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "has 70 characters; at most 64" in detail and "_YYYYMMDD_HHMMSS" in detail
    assert f"{name}_2" not in detail  # never a name the user did not type


@pytest.mark.parametrize("name", ["m_knn.pkl", "det.PKL"])
def test_a_detector_name_ending_in_pkl_is_refused(client, name):
    response = client.post(
        "/v1/ml/anomaly/fit", {"model": name, "data": TEMPERATURES, "overwrite": True}, content_type="application/json"
    )
    assert response.status_code == 400 and "must not end in '.pkl'" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/ml/anomaly/score", {"model": "m", "data": [[1.0]], "treshold": 0.0}, "treshold"),
        ("/v1/ml/anomaly/score", {"model": "m", "data": [[1.0]], "contamination": 0.2}, "contamination"),
        ("/v1/ml/classifier/predict", {"model": "m", "texts": ["a"], "text": "b"}, "text"),
        (
            "/v1/ml/classifier/fit",
            {"model": "m", "training_data": [{"text": "a", "label": "x"}, {"text": "b", "label": "y", "extra": 1}]},
            "extra",
        ),
    ],
)
def test_an_unknown_field_is_a_422_naming_it_and_what_the_request_takes(client, path, body, field):
    response = client.post(path, body, content_type="application/json")

    assert response.status_code == 422, response.content
    assert field in str(response.json()["detail"]) and "this request takes" in str(response.json()["detail"])


def test_a_queued_score_says_where_its_answer_will_be(client, settings):
    # No worker runs this job: none runs here, or the package's live server's cannot see this test's
    # uncommitted job (then the wait runs out).
    settings.MODELYARD_ML_WAIT_S = 0.5
    name = fitted("queued")
    response = client.post("/v1/ml/anomaly/score", {"model": name, "data": [[22.0]]}, content_type="application/json")

    assert response.status_code == 202
    body = response.json()
    assert f"/api/v1/jobs/{body['job_id']}" in body["detail"] and "fit" not in body["detail"]


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


def test_a_score_job_answers_the_spec_body_in_batches_and_keeps_only_the_size_of_its_data(monkeypatch):
    monkeypatch.setattr(services, "SCORE_BATCH", 50)
    name = fitted("batches")
    job = score_job(name, 150)

    jobs.job_run(job_id=str(job.id))

    job.refresh_from_db()
    assert job.state == Job.State.SUCCESS
    assert (job.progress_current, job.progress_total) == (150, 150)
    # What a client that got a 202 reads from the job: the spec's /score body.
    assert [point["index"] for point in job.result["data"]] == list(range(150))
    assert job.result["summary"]["total_points"] == 150 and job.result["model"] == name
    # The data was consumed: the row keeps its size only.
    assert job.params["data"] == {"items": 150, "trimmed": True} and job.params["name"] == name
    jobs.job_payload_trim(job=job)  # what the waiting request does once it has the answer
    job.refresh_from_db()
    assert job.result["data"] == {"items": 150, "trimmed": True} and job.result["summary"]["total_points"] == 150


def test_the_jobs_list_shows_results_trimmed_and_the_job_in_full(client, monkeypatch):
    name = fitted("listed")
    job = score_job(name, 150)
    jobs.job_run(job_id=str(job.id))

    listed = next(item for item in client.get("/api/v1/jobs/").json()["results"] if item["id"] == str(job.id))
    whole = client.get(f"/api/v1/jobs/{job.id}").json()

    assert listed["result"]["data"] == {"items": 150, "trimmed": True}
    assert len(whole["result"]["data"]) == 150


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


# --- data the model cannot score is a 400 before anything is queued -------------------------------


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([[1.0, 2.0]], "data rows have 2 features; the model was fitted on 1"),
        ([{"t": 1.0}], "was fitted on rows of 1 numbers, without a schema"),
        ([[1.0], [2.0, "x"]], "data[1][1]: expected a number"),
    ],
)
def test_data_the_detector_cannot_score_is_refused_before_queuing(client, data, words):
    name = fitted("checked")
    queued = Job.objects.count()

    response = client.post("/v1/ml/anomaly/score", {"model": name, "data": data}, content_type="application/json")

    assert response.status_code == 400, response.content
    assert words in response.json()["detail"] and "job_id" not in response.json()
    assert Job.objects.count() == queued


def test_records_missing_a_schema_field_are_refused_before_queuing(client):
    name = services.anomaly_fit_run(
        base_name="records",
        backend="isolation_forest",
        data=[{"latency": 100.0 + i, "method": ("GET", "POST")[i % 2]} for i in range(10)],
        schema=[["latency", "numeric"], ["method", "onehot"]],
        contamination=0.1,
        normalization="standardization",
        overwrite=False,
    )["versioned_name"]
    queued = Job.objects.count()

    for data, words in (([{"latency": 1.0}], "lacks field 'method'"), ([[1.0, 2.0]], "not an object")):
        response = client.post("/v1/ml/anomaly/score", {"model": name, "data": data}, content_type="application/json")
        assert response.status_code == 400, response.content
        assert words in response.json()["detail"]
    assert Job.objects.count() == queued


def test_an_active_jobs_payload_is_never_trimmed():
    job = score_job("anything", 200)

    jobs.job_payload_trim(job=job, max_items=20)

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
    assert "is fitted with isolation_forest" in detail and "plant_isolation_forest.pkl" in detail
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
