"""job_wait's timeout holds where web requests call it: in a request's thread-sensitive thread
under a running event loop (daphne runs views through Django's ASGI handler so), not only in plain
sync code. The wait's channel-layer unsubscribe used to be queued on that very thread: deadlock."""

import asyncio
import threading
import time

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async

from apps.core import jobs
from apps.core.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


def pending_job() -> Job:
    """A job no worker runs (none is started in these tests): it stays pending."""
    return jobs.job_enqueue(kind="test", func="tests.fakes.jobs.count_steps", params={"steps": 1, "pause_s": 0})


def wait_under_a_server_loop(job_id: str, timeout: float, *, give_up_s: float) -> tuple[Job | None, float]:
    """Call job_wait as a view under daphne does (in a request's ThreadSensitiveContext); the job it
    returned (None when it was still waiting after `give_up_s`) and the seconds it took."""
    outcome: dict[str, object] = {}
    loop = asyncio.new_event_loop()
    started = time.monotonic()

    def serve() -> None:
        async def view() -> Job:
            async with ThreadSensitiveContext():
                return await sync_to_async(lambda: jobs.job_wait(job_id=job_id, timeout=timeout))()

        outcome["job"] = loop.run_until_complete(view())
        outcome["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    thread.join(give_up_s)
    return outcome.get("job"), float(outcome.get("elapsed", time.monotonic() - started))


def test_a_wait_inside_a_server_event_loop_returns_after_its_timeout():
    job = pending_job()

    waited, elapsed = wait_under_a_server_loop(str(job.id), timeout=1.5, give_up_s=20)

    assert waited is not None, "job_wait never returned: the request would hang"
    assert waited.state == Job.State.PENDING
    assert 1.4 <= elapsed < 5


def test_a_plain_wait_returns_after_its_timeout():
    job = pending_job()
    started = time.monotonic()

    waited = jobs.job_wait(job_id=str(job.id), timeout=1.0)

    assert waited.state == Job.State.PENDING
    assert 0.9 <= time.monotonic() - started < 4
