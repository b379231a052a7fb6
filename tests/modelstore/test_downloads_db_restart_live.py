"""A download in a real `serve` survives a PostgreSQL restart under it (`pg_ctl -m fast stop` at
30 %, started again at once), and a client asking for the same model never joins a dead job."""

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.utils import timezone

from apps.core import jobs
from apps.core.models import Job
from apps.modelstore import services
from apps.modelstore.models import DOWNLOAD_JOB_KIND
from tests.fakes.jobs import wait_for_job
from tests.fakes.modelstore_hub import ENCODER, file_sha256
from tests.fakes.servers import LiveServer, embedded_database_restart, start_live_server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(bool(settings.DATABASE_URL), reason="restarts the embedded PostgreSQL"),
]

DOWNLOAD_S = 8  # the bandwidth cap makes the model's download last about this long


@pytest.fixture(scope="module")
def downloader(hub, django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[tuple[LiveServer, Path]]:
    home = tmp_path_factory.mktemp("db-restart-home")
    rate = sum(hub.files(ENCODER).values()) // DOWNLOAD_S
    with django_db_blocker.unblock():
        server = start_live_server(
            home / "serve.log",
            MODELYARD_HOME=str(home),
            MODELYARD_HF_ENDPOINT=hub.url,
            MODELYARD_HF_TOKEN=hub.token,
            MODELYARD_DOWNLOAD_RATE_LIMIT=str(rate),
            MODELYARD_DOWNLOAD_WORKERS="2",
            MODELYARD_JOB_HEARTBEAT_S="1",
            MODELYARD_JOB_STALE_S="30",
            MODELYARD_SECRET_KEY=settings.SECRET_KEY,  # django-q2 signs the tasks this process enqueues
        )
    yield server, home
    server.stop()


@pytest.fixture
def live_store(downloader, hub, settings) -> Iterator[Path]:
    """This process looks at the same store and hub as the downloading server."""
    _server, home = downloader
    settings.MODELYARD_HOME = home
    settings.MODELYARD_HF_ENDPOINT = hub.url
    settings.MODELYARD_HF_TOKEN = hub.token
    yield home / "models"
    shutil.rmtree(home / "models", ignore_errors=True)


def assert_verified(folder: Path, hub) -> None:
    for name in hub.files(ENCODER):
        assert file_sha256(folder / name) == hub.sha256[ENCODER][name], name


def test_a_download_survives_a_database_restart_at_30_percent_and_a_new_request_joins_it(downloader, live_store, hub):
    server, _home = downloader
    job = services.download_start(model_id=ENCODER).job
    wait_for_job(job, lambda job: job.state == Job.State.STARTED and (job.percent or 0) >= 30, timeout=60)

    embedded_database_restart()
    response = httpx.post(f"{server.url}/api/v1/downloads", json={"model_id": ENCODER}, timeout=120)

    assert response.status_code == 200, response.text
    assert response.json()["size_bytes"] == sum(hub.files(ENCODER).values())
    job.refresh_from_db()
    assert (job.state, job.error) == (Job.State.SUCCESS, "")
    assert Job.objects.filter(kind=DOWNLOAD_JOB_KIND).count() == 1  # the request joined the live job
    assert_verified(live_store / "huggingface" / ENCODER, hub)


def test_a_request_for_a_model_whose_download_no_worker_runs_gets_a_live_job(downloader, live_store, hub):
    long_ago = timezone.now() - timedelta(minutes=10)
    dead = Job.objects.create(
        kind=DOWNLOAD_JOB_KIND,
        func="apps.modelstore.tasks.download_model",
        params={"source": "huggingface", "model_id": ENCODER, "include_patterns": None, "force": False},
        owner_ref=f"huggingface/{ENCODER}",
        state=Job.State.STARTED,
        worker=jobs.worker_name(),  # a live PID, but not a worker: nobody runs this job
        attempts=1,
        started_at=long_ago,
        heartbeat_at=long_ago,
    )

    joined = services.download_start(model_id=ENCODER).job

    assert joined.pk == dead.pk
    assert (joined.state, joined.worker) == (Job.State.PENDING, "")  # requeued before it was joined
    job = wait_for_job(joined, lambda job: job.is_finished, timeout=90)
    assert (job.state, job.attempts) == (Job.State.SUCCESS, 2)
    assert_verified(live_store / "huggingface" / ENCODER, hub)
