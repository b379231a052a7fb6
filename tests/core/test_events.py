"""core.events: publishing to channel-layer groups and subscribing to them; a job's event stream."""

import asyncio
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.core import events, jobs
from apps.core.models import Job

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "channels_postgres"])


def test_a_message_published_after_subscribing_but_before_receiving_is_not_lost():
    async def subscribe_then_publish() -> tuple:
        async with events.subscription("test.group") as receive:
            await asyncio.to_thread(events.publish, "test.group", "progress", {"step": 1})
            await asyncio.to_thread(events.publish, "test.group", "complete", {"step": 2})
            return await receive(timeout=5), await receive(timeout=5)

    assert asyncio.run(subscribe_then_publish()) == (("progress", {"step": 1}), ("complete", {"step": 2}))


def test_receive_returns_none_when_nothing_arrives_in_time():
    async def wait_for_nothing() -> object:
        async with events.subscription("test.quiet") as receive:
            return await receive(timeout=0.3)

    assert asyncio.run(wait_for_nothing()) is None


def test_the_channel_layer_check_passes_every_time():
    assert [events.channel_layer_check() for _ in range(3)] == ["healthy"] * 3


def terminate_other_connections() -> int:
    """What a database restart does to this process's channel layer: its listener and pool lose
    their connections (the test's own connection survives)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_the_channel_layer_reconnects_by_itself_after_losing_its_connections():
    assert events.channel_layer_check() == "healthy"  # the listener and the pool are connected

    assert terminate_other_connections() >= 1
    deadline = time.monotonic() + 15
    results = []
    while time.monotonic() < deadline:
        results.append(events.channel_layer_check(timeout=2))
        if results[-1] == "healthy":
            break

    assert results[-1] == "healthy", results
    started = time.monotonic()
    assert events.channel_layer_check() == "healthy"
    assert time.monotonic() - started < 1.0  # not the 3 s timeout of a dead listener


def test_a_subscriber_that_lost_its_connections_hears_events_again():
    async def scenario() -> tuple:
        async with events.subscription("test.restart") as receive:
            await asyncio.to_thread(terminate_other_connections)
            delivered, deadline = None, time.monotonic() + 15
            while delivered is None and time.monotonic() < deadline:
                await asyncio.to_thread(events.publish, "test.restart", "progress", {"step": 1})
                delivered = await receive(timeout=1)
            return delivered

    assert asyncio.run(scenario()) == ("progress", {"step": 1})


# --- a job's event stream ---------------------------------------------------------------------------


def started_job() -> Job:
    return Job.objects.create(kind="test.silent", func="tests.fakes.jobs.count_steps", state=Job.State.STARTED)


def set_progress_silently(job: Job, current: int, total: int) -> None:
    """Change the row as a worker would, with no event: as if the event were lost."""
    Job.objects.filter(pk=job.pk).update(progress_current=current, progress_total=total)


def finish(job: Job, *, publish: bool) -> None:
    Job.objects.filter(pk=job.pk).update(state=Job.State.SUCCESS, result={"ok": True}, finished_at=timezone.now())
    if publish:
        jobs.publish_job_event(Job.objects.get(pk=job.pk), "complete")


def test_a_job_stream_reads_progress_from_the_row_when_no_event_comes_within_a_second():
    job = started_job()

    async def scenario() -> tuple[list, float]:
        stream = jobs.job_event_stream(job_id=str(job.id))
        received = [await anext(stream)]
        changed_at = time.monotonic()
        await asyncio.to_thread(set_progress_silently, job, 1, 2)
        received.append(await anext(stream))
        waited = time.monotonic() - changed_at
        await asyncio.to_thread(finish, job, publish=False)
        received.extend([item async for item in stream])
        return received, waited

    received, waited = asyncio.run(scenario())

    assert [name for name, _ in received] == ["state", "progress", "complete"]
    assert received[1][1]["progress"] == {"current": 1, "total": 2, "percent": 50.0}
    assert received[1][1]["state"] == "STARTED"
    assert received[2][1]["state"] == "SUCCESS" and received[2][1]["result"] == {"ok": True}
    assert waited < 2.5  # about the one-second fallback, not the keep-alive interval


def test_a_progress_read_from_the_row_is_not_sent_again_when_its_event_arrives_late():
    job = started_job()

    async def scenario() -> list:
        stream = jobs.job_event_stream(job_id=str(job.id))
        received = [await anext(stream)]
        await asyncio.to_thread(set_progress_silently, job, 1, 2)
        received.append(await anext(stream))  # from the row
        late = await asyncio.to_thread(Job.objects.get, pk=job.pk)
        await asyncio.to_thread(jobs.publish_job_event, late, "progress")  # the same progress, late
        await asyncio.to_thread(finish, job, publish=True)
        received.extend([item async for item in stream])
        return received

    assert [name for name, _ in asyncio.run(scenario())] == ["state", "progress", "complete"]


def test_the_final_event_of_a_job_given_up_carries_its_last_log_line(settings):
    settings.MODELYARD_JOB_MAX_ATTEMPTS = 2
    job = jobs.job_enqueue(kind="test", func="tests.fakes.jobs.count_steps", params={"steps": 1, "pause_s": 0})
    worker = "elsewhere:1"
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.STARTED, attempts=2, worker=worker, heartbeat_at=timezone.now() - timedelta(hours=1)
    )

    async def listen_while_recovering() -> tuple:
        async with events.subscription(jobs.job_group(job.id)) as receive:
            await asyncio.to_thread(jobs.jobs_recover_stale, job_id=str(job.id))
            return await receive(timeout=5)

    event, payload = asyncio.run(listen_while_recovering())

    job.refresh_from_db()
    assert (event, payload["state"]) == ("error", "FAILURE")
    assert payload["log"][-1]["line"] == job.error
    assert job.error.endswith("gave up after 2 attempt(s) of 2")
    assert payload == jobs.job_payload(job, log_lines=jobs.LOG_LINES_IN_EVENTS)
