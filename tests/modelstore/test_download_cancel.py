"""A download cancelled while clients wait on it: a deliberate cancel is a 409 (or the stream's error
event), logged at INFO, never a server error."""

import json
import logging
import threading
import time

import pytest
from django.db import connection

from apps.core import jobs
from apps.core.models import Job
from apps.modelstore.models import DOWNLOAD_JOB_KIND
from tests.core.test_sse import body_of
from tests.fakes.modelstore_hub import ENCODER

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def cancel_the_download_once_it_exists() -> threading.Thread:
    """Another client's `DELETE /api/v1/jobs/{id}`: no worker runs here, so the job is still pending
    and the cancel ends it at once, while the request under test waits on it."""

    def cancel() -> None:
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                job = Job.objects.filter(kind=DOWNLOAD_JOB_KIND).first()
                if job is not None:
                    jobs.job_cancel(job_id=str(job.id))
                    return
                time.sleep(0.05)
        finally:
            connection.close()

    thread = threading.Thread(target=cancel)
    thread.start()
    return thread


def test_a_download_cancelled_while_the_client_waits_is_409_with_the_job_id_and_logged_at_info(
    client, hub_store, caplog
):
    canceller = cancel_the_download_once_it_exists()
    with caplog.at_level(logging.INFO):
        response = client.post("/api/v1/downloads", {"model_id": ENCODER}, content_type="application/json")
    canceller.join()

    job = Job.objects.get(kind=DOWNLOAD_JOB_KIND)
    assert job.state == Job.State.CANCELLED
    assert (response.status_code, response.json()) == (
        409,
        {"detail": f"download of huggingface/{ENCODER} was cancelled", "job_id": str(job.id)},
    )
    ours = [record for record in caplog.records if record.name.startswith("apps.")]
    assert [record.levelname for record in ours if "was cancelled" in record.getMessage()] == ["INFO"]
    assert not [record for record in ours if record.levelno >= logging.ERROR]


def test_a_download_stream_cancelled_while_the_client_listens_ends_with_the_same_message(client, hub_store, caplog):
    canceller = cancel_the_download_once_it_exists()
    with caplog.at_level(logging.INFO):
        response = client.post(
            "/v1/models/download",
            {"model_name": ENCODER},
            content_type="application/json",
            HTTP_ACCEPT="text/event-stream",
        )
        frames = body_of(response).decode()
    canceller.join()

    events = [json.loads(line.removeprefix("data: ")) for line in frames.splitlines() if line.startswith("data: ")]
    assert response.status_code == 200
    assert events[-1] == {"event": "error", "message": f"download of huggingface/{ENCODER} was cancelled"}
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
