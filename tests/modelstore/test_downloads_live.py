"""Downloads end to end: a real Modelyard (daphne + workers) downloading from the test mirror.

The downloading server caps its bandwidth (MODELYARD_DOWNLOAD_RATE_LIMIT) so a download lasts
long enough to be watched, shared, disconnected from and killed halfway.
"""

import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from apps.core.models import Job
from apps.modelstore import services
from apps.modelstore.models import DOWNLOAD_JOB_KIND, LocalModel
from tests.fakes.modelstore_hub import ENCODER, GGUF, file_sha256
from tests.fakes.servers import LiveServer, start_live_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RATE = 1536 * 1024  # bytes per second


@dataclass
class Downloader:
    server: LiveServer
    home: Path


@pytest.fixture(scope="module")
def downloader(hub, django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Downloader]:
    home = tmp_path_factory.mktemp("downloader-home")
    with django_db_blocker.unblock():
        server = start_live_server(
            home / "serve.log",
            MODELYARD_HOME=str(home),
            MODELYARD_HF_ENDPOINT=hub.url,
            MODELYARD_HF_TOKEN=hub.token,
            MODELYARD_DOWNLOAD_RATE_LIMIT=str(RATE),
            MODELYARD_DOWNLOAD_WORKERS="2",
            # Its own data directory, but this process's secret key: django-q2 signs the tasks we enqueue.
            MODELYARD_SECRET_KEY=settings.SECRET_KEY,
        )
    yield Downloader(server=server, home=home)
    server.stop()


@pytest.fixture
def live_store(downloader, hub, settings) -> Iterator[Path]:
    """This process looks at the same store and hub as the downloading server."""
    settings.MODELYARD_HOME = downloader.home
    settings.MODELYARD_HF_ENDPOINT = hub.url
    settings.MODELYARD_HF_TOKEN = hub.token
    yield downloader.home / "models"
    shutil.rmtree(downloader.home / "models", ignore_errors=True)


def wait_for(job: Job, check, timeout: float = 30) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if check(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job.id} never got there: {job.state} {job.progress} {job.error}")


def stream_events(url: str, body: dict, *, stop_after_progress: bool = False) -> tuple[list[str], list[dict]]:
    """POST and read the SSE stream: every raw line, and the `data:` payloads."""
    lines, events = [], []
    with httpx.stream("POST", url, json=body, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            lines.append(line)
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
                if stop_after_progress and events[-1]["event"] == "progress":
                    break
    return lines, events


def assert_same_files(folder: Path, hub, repo_id: str) -> None:
    for name in hub.files(repo_id):
        assert file_sha256(folder / name) == hub.sha256[repo_id][name], name


def test_post_downloads_waits_for_the_job_and_answers_the_specs_body(downloader, live_store, hub):
    response = httpx.post(f"{downloader.server.url}/api/v1/downloads", json={"model_id": ENCODER}, timeout=60)

    assert response.status_code == 200, response.text
    body = response.json()
    path = live_store / "huggingface" / ENCODER
    assert body == {
        "model_id": ENCODER,
        "source": "huggingface",
        "path": str(path),
        "files": sorted(hub.files(ENCODER)),
        "size_bytes": sum(hub.files(ENCODER).values()),
    }
    assert_same_files(path, hub, ENCODER)
    job = Job.objects.get(kind=DOWNLOAD_JOB_KIND)
    assert job.state == Job.State.SUCCESS and job.owner_ref == f"huggingface/{ENCODER}"
    assert job.progress_current == job.progress_total == body["size_bytes"]
    assert set(job.progress) >= {"bytes", "total_bytes", "speed_bps", "eta_s", "files_done", "files_total"}


def test_two_identical_requests_at_once_share_one_download_job(downloader, live_store, hub):
    answers = []

    def ask() -> None:
        response = httpx.post(
            f"{downloader.server.url}/api/v1/downloads",
            json={"model_id": GGUF, "include_patterns": ["*F16*", "*Q8_0*"]},
            timeout=60,
        )
        answers.append((response.status_code, response.json()))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [status for status, _ in answers] == [200, 200]
    assert answers[0][1] == answers[1][1]
    assert answers[0][1]["files"] == ["tiny-gguf-F16.gguf", "tiny-gguf-Q8_0.gguf"]
    assert Job.objects.filter(kind=DOWNLOAD_JOB_KIND).count() == 1


def test_the_models_cache_download_streams_progress_then_complete(downloader, live_store, hub):
    lines, events = stream_events(f"{downloader.server.url}/v1/models/download", {"model_name": ENCODER})

    assert not [line for line in lines if line.startswith("event:")]  # `data:` lines only, as the spec shows
    names = [event["event"] for event in events]
    assert names[-1] == "complete" and set(names[:-1]) == {"progress"}
    progress = [event for event in events if event["event"] == "progress"]
    assert len(progress) >= 3
    downloaded = [event["downloaded"] for event in progress]
    assert downloaded == sorted(downloaded) and downloaded[0] < downloaded[-1]
    total = sum(hub.files(ENCODER).values())
    assert {event["total"] for event in progress} == {total}
    assert all(0 <= event["percent"] <= 100 for event in progress)
    assert events[-1] == {
        "event": "complete",
        "model_name": ENCODER,
        "path": str(live_store / "huggingface" / ENCODER),
        "size_bytes": total,
    }


def test_a_client_that_disconnects_does_not_stop_the_download(downloader, live_store, hub):
    _lines, events = stream_events(
        f"{downloader.server.url}/v1/models/download", {"model_name": ENCODER}, stop_after_progress=True
    )
    assert events[-1]["event"] == "progress"
    assert events[-1]["downloaded"] < sum(hub.files(ENCODER).values())

    job = wait_for(Job.objects.get(kind=DOWNLOAD_JOB_KIND), lambda job: job.is_finished)

    assert job.state == Job.State.SUCCESS
    assert LocalModel.objects.filter(model_id=ENCODER).exists()
    assert_same_files(live_store / "huggingface" / ENCODER, hub, ENCODER)


def test_a_download_killed_halfway_resumes_without_fetching_finished_files_again(downloader, live_store, hub):
    total = sum(hub.files(ENCODER).values())
    job = services.download_start(model_id=ENCODER).job
    files_total = len(hub.files(ENCODER))

    # Every file but the large shard is finished, and the shard is partly there: kill the worker.
    job = wait_for(
        job, lambda job: job.progress.get("files_done") == files_total - 1 and job.state == Job.State.STARTED
    )
    done_before = job.progress_current
    os.kill(int(job.worker.rsplit(":", 1)[1]), signal.SIGKILL)

    job = wait_for(job, lambda job: job.is_finished, timeout=60)

    assert job.state == Job.State.SUCCESS, job.error
    assert job.attempts == 2
    result = job.result
    assert result["files_reused"] == files_total - 1
    assert result["resumed_bytes"] > 0
    assert result["fetched_bytes"] + result["resumed_bytes"] + result["reused_bytes"] == total
    assert result["fetched_bytes"] < total - done_before + 1024 * 1024  # at most the chunk in flight again
    assert_same_files(live_store / "huggingface" / ENCODER, hub, ENCODER)


def test_a_download_that_fails_answers_500_with_the_reason(downloader, live_store, hub):
    sha256 = hub.sha256[GGUF]["tiny-gguf-Q4_K_M.gguf"]
    partial = live_store / ".partial" / "huggingface" / GGUF / f"tiny-gguf-Q4_K_M.gguf.{sha256[:16]}.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"not the right bytes")

    response = httpx.post(
        f"{downloader.server.url}/api/v1/downloads",
        json={"model_id": GGUF, "include_patterns": ["*Q4_K_M*"]},
        timeout=60,
    )

    assert response.status_code == 500
    assert response.json()["detail"].startswith("download failed: tiny-gguf-Q4_K_M.gguf: got hash")
    assert Job.objects.get(kind=DOWNLOAD_JOB_KIND).state == Job.State.FAILURE
