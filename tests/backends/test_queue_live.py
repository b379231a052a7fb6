"""The download queue end to end: a model a pool wants is pulled to its Ollama backend by a
worker, with live `event: status` SSE progress, and can be cancelled."""

import json
import threading
import time

import httpx
import pytest

from apps.core.models import Job
from tests.fakes.backends_ollama import FakeOllama

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class StatusListener(threading.Thread):
    """Reads GET /queue/inProgress in the background, keeping every `status` event."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.events, self.connected = url, [], threading.Event()

    def run(self) -> None:
        try:
            with httpx.stream("GET", f"{self.url}/queue/inProgress", timeout=None) as response:
                self.connected.set()
                event = None
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event == "status":
                        self.events.append(json.loads(line[6:]))
        except httpx.HTTPError:
            pass  # the server stopped at the end of the module


def wait_until(condition, timeout: float = 30, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"{message} not met in {timeout}s")


def declare_in_pool(http: httpx.Client, fake: FakeOllama, model: str) -> dict:
    backend = http.post("/backends", json={"name": fake.name, "baseUrl": fake.url, "type": "ollama"}).json()
    pool = http.post("/pools", json={"name": f"pool-{fake.name}", "purposeType": "Internal Tasks"}).json()
    declared = http.post("/models", json={"model": model}).json()
    http.post(f"/backend-associations/{pool['id']}/backends/{backend['id']}")
    http.post(f"/model-associations/{pool['id']}/models/{declared['id']}")
    return {"backend": backend, "pool": pool, "model": declared}


def test_a_model_a_pool_wants_is_pulled_with_live_status_events(modelyard_server):
    fake = FakeOllama(name="puller", pull_steps=5, pull_delay_s=0.2).start()
    listener = StatusListener(modelyard_server.url)
    listener.start()
    listener.connected.wait(10)
    try:
        with httpx.Client(base_url=modelyard_server.url, timeout=30) as http:
            created = declare_in_pool(http, fake, "phi3:mini")
            queued = wait_until(lambda: http.get("/queue").json(), message="the pull is queued")
            state = wait_until(
                lambda: "phi3:mini" in http.get(f"/backends/{created['backend']['id']}").json()["models"],
                message="the model reaches the backend",
            )
            remaining = http.get("/queue").json()
    finally:
        fake.stop()

    assert state
    assert queued[0]["taskType"] == "model_download"
    assert queued[0]["modelJob"]["model"] == "phi3:mini" and queued[0]["modelJob"]["url"] == fake.url
    assert remaining == []
    wait_until(lambda: any(e["status"] == "success" for e in listener.events), 10, "the success event")
    downloading = [e for e in listener.events if e.get("total")]
    assert downloading and set(downloading[0]) == {"status", "digest", "total", "completed", "model", "baseUrl"}
    assert downloading[-1]["completed"] == downloading[-1]["total"]
    assert {e["model"] for e in listener.events} == {"phi3:mini"}
    assert Job.objects.get(kind="backends.pull").state == Job.State.SUCCESS


def test_a_running_pull_is_cancelled_by_model_and_the_queue_forgets_it(modelyard_server):
    fake = FakeOllama(name="slow-puller", pull_steps=50, pull_delay_s=0.3).start()
    try:
        with httpx.Client(base_url=modelyard_server.url, timeout=30) as http:
            declare_in_pool(http, fake, "big-model:70b")
            wait_until(
                lambda: Job.objects.filter(kind="backends.pull", state=Job.State.STARTED).exists(),
                message="the pull starts",
            )

            cancelled = http.delete("/queue/cancel", params={"model": "big-model:70b"})
            job = wait_until(
                lambda: Job.objects.filter(kind="backends.pull", state=Job.State.CANCELLED).first(),
                message="the pull is cancelled",
            )
            assert (cancelled.status_code, cancelled.json()) == (
                200,
                "1 download(s) cancelled; it will not be queued again until the model's pool membership changes",
            )
            Job.objects.filter(kind="backends.sync").delete()
            http.post("/models", json={"model": "unrelated:1b"})  # a registry change: a sync runs
            wait_until(
                lambda: Job.objects.filter(kind="backends.sync", state=Job.State.SUCCESS).exists(),
                message="the next sync ran",
            )
            assert http.get("/queue").json() == []  # and did not queue the cancelled pull again
            assert http.get("/queue").json() == []
            assert "big-model:70b" not in fake.model_names
            unknown = http.delete("/queue/never-queued:1b")
            assert (unknown.status_code, unknown.json()) == (
                404,
                {"error": "model 'never-queued:1b' is not in the download queue"},
            )
            assert http.delete("/queue/cancel").status_code == 400
    finally:
        fake.stop()
    assert job.error == "cancelled while running"


def test_deleting_a_model_with_purge_drops_its_queued_pull(modelyard_server):
    fake = FakeOllama(name="purge-puller", pull_steps=50, pull_delay_s=0.3).start()
    try:
        with httpx.Client(base_url=modelyard_server.url, timeout=30) as http:
            created = declare_in_pool(http, fake, "doomed:7b")
            wait_until(lambda: Job.objects.filter(kind="backends.pull").exists(), message="the pull is queued")

            response = http.delete(f"/models/{created['model']['id']}", params={"purge": "true"})

            assert response.json() == "model removed"
            wait_until(
                lambda: not Job.objects.filter(kind="backends.pull", state__in=["PENDING", "STARTED"]).exists(),
                message="the pull is dropped",
            )
    finally:
        fake.stop()


def test_an_idle_progress_stream_opens_at_once_and_keeps_alive_within_5_seconds(modelyard_server):
    # A client whose read timeout is 5 s must never time out on an idle stream.
    timeout = httpx.Timeout(5.0, connect=5.0)
    started = time.monotonic()
    arrivals = []
    with httpx.stream("GET", f"{modelyard_server.url}/queue/inProgress", timeout=timeout) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line:
                arrivals.append((time.monotonic() - started, line))
            if time.monotonic() - started > 11:
                break

    assert arrivals[0][1] == ": keep-alive" and arrivals[0][0] < 2.0
    times = [at for at, _line in arrivals]
    assert all(later - earlier <= 5.0 for earlier, later in zip(times, times[1:], strict=False))
    assert len(arrivals) >= 3
