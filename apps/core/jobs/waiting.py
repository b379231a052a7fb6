"""Waiting for a job, for services that answer when it is done."""

import asyncio

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings

from apps.core.jobs.recovery import jobs_recover_stale
from apps.core.jobs.rows import job_get
from apps.core.jobs.streams import FINAL_EVENTS, job_event_stream
from apps.core.models import Job


def job_wait(*, job_id: str, timeout: float | None = None) -> Job:
    """Block until the job finishes (or `timeout` seconds pass), woken by its events, not by
    polling; a job whose worker went silent meanwhile is requeued, so the wait never hangs on it."""

    async def until_finished() -> None:
        async for item in job_event_stream(job_id=job_id, tick_s=settings.MODELYARD_SSE_KEEPALIVE_S):
            if item is None:
                await sync_to_async(jobs_recover_stale)(job_id=job_id)
            elif item[0] in FINAL_EVENTS.values():
                return

    async def bounded() -> None:
        try:
            await asyncio.wait_for(until_finished(), timeout)
        except TimeoutError:
            pass

    async_to_sync(bounded)()
    return job_get(job_id=job_id)
