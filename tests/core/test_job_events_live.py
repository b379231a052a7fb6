"""Jobs end to end: a real daphne and a real qcluster (`manage.py serve`), events read over HTTP."""

import json
import time

import httpx
import pytest

from apps.core import jobs
from apps.core.models import Job

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def read_events(url: str, timeout: float = 60) -> list[tuple[float, str, dict]]:
    """Read an SSE stream to its end; each event with the time it arrived."""
    received, event = [], None
    with httpx.stream("GET", url, timeout=timeout, headers={"Accept": "text/event-stream"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                received.append((time.monotonic(), event, json.loads(line.removeprefix("data: "))))
    return received


def wait_for_state(job: Job, state: str, timeout: float = 30) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.state == state:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job stayed {job.state}, never {state}: {job.error}")


def test_progress_events_arrive_as_they_happen_then_the_stream_completes(modelyard_server):
    job = jobs.job_enqueue(kind="test.steps", func="tests.fakes.jobs.count_steps", params={"steps": 5, "pause_s": 0.5})

    events = read_events(f"{modelyard_server.url}/api/v1/jobs/{job.id}/events")

    names = [name for _, name, _ in events]
    assert names[0] == "state"
    assert names[-1] == "complete"
    progress = [(at, data) for at, name, data in events if name == "progress"]
    assert [data["progress"]["current"] for _, data in progress] == [1, 2, 3, 4, 5]
    assert events[-1][2]["state"] == "SUCCESS" and events[-1][2]["result"] == {"steps": 5}
    # Streamed live, not in one burst at the end: the steps arrive about 0.5 s apart.
    gaps = [later[0] - earlier[0] for earlier, later in zip(progress, progress[1:], strict=False)]
    assert min(gaps) > 0.2, gaps
    assert progress[-1][0] - progress[0][0] > 1.5


def test_the_stream_of_a_finished_job_sends_its_state_and_final_event_at_once(modelyard_server):
    job = jobs.job_enqueue(kind="test.fail", func="tests.fakes.jobs.give_up", params={"reason": "no space left"})
    wait_for_state(job, Job.State.FAILURE)

    events = read_events(f"{modelyard_server.url}/api/v1/jobs/{job.id}/events", timeout=10)

    assert [name for _, name, _ in events] == ["state", "error"]
    assert events[-1][2]["error"] == "no space left"


def test_cancelling_over_http_stops_a_running_job_and_ends_its_stream(modelyard_server):
    job = jobs.job_enqueue(kind="test.long", func="tests.fakes.jobs.count_steps", params={"steps": 100, "pause_s": 0.2})
    wait_for_state(job, Job.State.STARTED)

    response = httpx.delete(f"{modelyard_server.url}/api/v1/jobs/{job.id}")
    assert response.status_code == 200
    assert response.json()["cancel_requested"] is True
    events = read_events(f"{modelyard_server.url}/api/v1/jobs/{job.id}/events", timeout=20)

    assert events[-1][1] == "cancelled"
    job = wait_for_state(job, Job.State.CANCELLED)
    assert (job.progress_current or 0) < 100
    again = httpx.delete(f"{modelyard_server.url}/api/v1/jobs/{job.id}")
    assert again.status_code == 409
    assert again.json() == {"detail": f"job {job.id} already finished (CANCELLED)", "state": "CANCELLED"}


def test_a_job_whose_worker_died_is_requeued_and_runs_again(modelyard_server, tmp_path):
    marker = tmp_path / "died-once"
    job = jobs.job_enqueue(kind="test.die", func="tests.fakes.jobs.die_hard", params={"marker": str(marker)})

    job = wait_for_state(job, Job.State.SUCCESS, timeout=60)

    assert marker.exists()  # the first run killed its worker
    assert job.attempts == 2
    assert job.result == {"survived": True}


def test_the_job_list_and_detail_show_jobs_over_http(modelyard_server):
    job = jobs.job_enqueue(kind="test.list", func="tests.fakes.jobs.count_steps", params={"steps": 1, "pause_s": 0})
    wait_for_state(job, Job.State.SUCCESS)

    listing = httpx.get(f"{modelyard_server.url}/api/v1/jobs/", params={"kind": "test.list"}).json()
    detail = httpx.get(f"{modelyard_server.url}/api/v1/jobs/{job.id}").json()

    assert [item["id"] for item in listing["results"]] == [str(job.id)]
    assert detail["state"] == "SUCCESS"
    assert detail["progress"] == {"current": 1, "total": 1, "percent": 100.0, "message": "step 1 of 1"}


def test_progress_saved_without_any_event_still_reaches_the_stream_within_a_second(modelyard_server):
    job = jobs.job_enqueue(
        kind="test.silent", func="tests.fakes.jobs.silent_steps", params={"steps": 3, "pause_s": 1.5}
    )

    events = read_events(f"{modelyard_server.url}/api/v1/jobs/{job.id}/events")

    names = [name for _, name, _ in events]
    assert names[0] == "state" and names[-1] == "complete"
    # Steps 1 and 2 come from the row, 1.5 s apart; the last one with the final event right after it.
    progress = [data["progress"]["current"] for _, name, data in events if name == "progress"]
    assert progress == [1, 2]
    assert events[-1][2]["progress"]["current"] == 3 and events[-1][2]["result"] == {"steps": 3}
