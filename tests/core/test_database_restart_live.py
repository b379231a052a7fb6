"""Issue 11 A4: live progress after a database restart, with no hand on the server.

A real `manage.py serve` (daphne + qcluster) runs on an embedded PostgreSQL of its own, which the
test restarts under it (`pg_ctl -m fast stop`, then start), as a database crash or upgrade would.
"""

import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from django.conf import settings

from apps.core import embedded_postgres
from tests.core.test_job_events_live import read_events
from tests.fakes.servers import ROOT, LiveServer, database_env, manage, start_live_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DATABASE = "modelyard_restart"


@dataclass
class ServeOnOwnDatabase:
    server: LiveServer
    pgdata: Path
    env: dict[str, str]

    def restart_database(self) -> None:
        assert embedded_postgres.stop(self.pgdata)
        embedded_postgres.ensure_running(self.pgdata)

    def enqueue(self, func: str, **params: object) -> str:
        """A job on that database, submitted to its workers (as a view would)."""
        code = (
            "from apps.core import jobs; "
            f"print(jobs.job_enqueue(kind='test.restart', func={func!r}, params={params!r}).id)"
        )
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def serve_on_own_database(django_db_setup: None, django_db_blocker: object) -> Iterator[ServeOnOwnDatabase]:
    # Not under pytest's temporary directory: another pytest session resets its parent to 0700,
    # which the server's own user (when run as root) then cannot traverse to stop it.
    home = Path(tempfile.mkdtemp(prefix="restart-", dir=settings.MODELYARD_HOME))
    pgdata = home / "postgres"
    uri = urlsplit(embedded_postgres.ensure_running(pgdata, database=DATABASE))
    url = urlunsplit(uri._replace(path=f"/{DATABASE}"))
    env = database_env(DATABASE_URL=url, MODELYARD_HOME=str(home))
    try:
        migrated = manage("migrate", "--no-input", env=env, timeout=300)
        assert migrated.returncode == 0, migrated.stderr
        with django_db_blocker.unblock():
            server = start_live_server(home / "serve.log", DATABASE_URL=url, MODELYARD_HOME=str(home))
        try:
            yield ServeOnOwnDatabase(server, pgdata, env)
        finally:
            server.stop()
    finally:
        embedded_postgres.stop(pgdata)
        shutil.rmtree(home, ignore_errors=True)


def timed_health(server: LiveServer) -> tuple[dict, float]:
    started = time.monotonic()
    body = httpx.get(f"{server.url}/health", timeout=30).json()
    return body, time.monotonic() - started


def test_after_a_database_restart_health_and_job_streams_recover_by_themselves(serve_on_own_database):
    serve = serve_on_own_database
    body, _ = timed_health(serve.server)
    assert body["services"]["channel_layer"] == "healthy"

    serve.restart_database()

    deadline, seen = time.monotonic() + 60, []
    while time.monotonic() < deadline:
        try:
            body, took = timed_health(serve.server)
            seen.append(body["services"]["channel_layer"])
            if seen[-1] == "healthy" and body["services"]["database"] == "healthy":
                break
        except (httpx.HTTPError, ValueError):
            seen.append("no answer")
        time.sleep(0.5)
    assert seen[-1] == "healthy", (seen, serve.server.log()[-3000:])
    body, took = timed_health(serve.server)
    assert body["services"]["channel_layer"] == "healthy"
    assert took < 1.5  # not the 3 s of a channel-layer check waiting on a dead listener

    job_id = serve.enqueue("tests.fakes.jobs.count_steps", steps=5, pause_s=0.5)
    events = read_events(f"{serve.server.url}/api/v1/jobs/{job_id}/events", timeout=90)

    names = [name for _, name, _ in events]
    assert names[0] == "state" and names[-1] == "complete", names
    progress = [(at, data["progress"]["current"]) for at, name, data in events if name == "progress"]
    assert [step for _, step in progress] == [1, 2, 3, 4, 5]
    assert progress[-1][0] - progress[0][0] > 1.5  # live, not in one burst at the end


def test_a_stream_open_across_a_database_restart_keeps_showing_progress(serve_on_own_database):
    serve = serve_on_own_database
    job_id = serve.enqueue("tests.fakes.jobs.count_steps", steps=16, pause_s=0.5)
    url = f"{serve.server.url}/api/v1/jobs/{job_id}/events"
    received: list[tuple[float, str, dict]] = []

    def read() -> None:
        for item in read_stream(url):
            received.append(item)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while not any(name == "progress" for _, name, _ in list(received)) and time.monotonic() < deadline:
        time.sleep(0.1)

    serve.restart_database()
    restarted_at = time.monotonic()
    reader.join(timeout=120)

    assert not reader.is_alive(), "the stream never ended"
    names = [name for _, name, _ in received]
    assert names[-1] == "complete", (names, serve.server.log()[-3000:])
    after = [data["progress"]["current"] for at, name, data in received if name == "progress" and at > restarted_at]
    # Progress kept coming after the restart (from the start again if the job was requeued).
    assert len(after) >= 3, after
    assert received[-1][2]["progress"]["current"] == 16


def read_stream(url: str) -> Iterator[tuple[float, str, dict]]:
    """The events of an SSE stream as they arrive (read_events collects them only at the end)."""
    event = None
    with httpx.stream("GET", url, timeout=120, headers={"Accept": "text/event-stream"}) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                yield time.monotonic(), event, json.loads(line.removeprefix("data: "))
