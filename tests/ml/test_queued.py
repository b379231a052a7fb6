"""An ML request whose job no worker takes neither hangs nor loads a model in the web process: it
answers 202 with the job's id, and the job stays queued for a worker (none is running here, or
the job is invisible to the live server's: it sits in this test's uncommitted transaction)."""

import pytest

from apps.core.models import Job

pytestmark = pytest.mark.django_db


def test_a_fit_no_worker_takes_is_answered_202_with_its_queued_job(client, settings):
    settings.MODELYARD_ML_WAIT_S = 0.5
    response = client.post(
        "/v1/ml/anomaly/fit",
        {"model": "queued", "data": [[1.0], [2.0], [3.0]]},
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["job_id"] in body["detail"]
    job = Job.objects.get(pk=body["job_id"])
    assert job.kind == "ml.anomaly.fit" and job.state == Job.State.PENDING
    assert job.func == "apps.ml.tasks.anomaly_fit" and job.params["base_name"] == "queued"


def test_bad_data_is_refused_before_anything_is_queued(client):
    queued = Job.objects.filter(kind="ml.anomaly.fit").count()
    response = client.post("/v1/ml/anomaly/fit", {"data": [[1.0], ["x"]]}, content_type="application/json")
    assert response.status_code == 400
    assert "expected a number" in response.json()["detail"]
    assert Job.objects.filter(kind="ml.anomaly.fit").count() == queued
