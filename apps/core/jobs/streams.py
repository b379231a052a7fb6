"""The one representation of a job, and its events: published on the channel-layer group
`job.<id>`, relayed by the SSE endpoints (`job_event_stream`). Events carry the job's result
trimmed (`payload_trimmed`: a 100,000-point answer is its size), so they stay small on the channel
layer; the whole result is at `/api/v1/jobs/{id}`. Rows are read without their params, which only
the worker needs and can be megabytes."""

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async

from apps.core import events
from apps.core.jobs.database import DATABASE_LOST, close_connection
from apps.core.jobs.rows import LOG_LINES, PAYLOAD_KEPT_ITEMS, State, iso_time, payload_trimmed
from apps.core.models import Job

logger = logging.getLogger(__name__)

# The last event of a job's stream, by the state it ended in.
FINAL_EVENTS = {State.SUCCESS: "complete", State.FAILURE: "error", State.CANCELLED: "cancelled"}

# Events carry the last few lines of the job's log.
LOG_LINES_IN_EVENTS = 20

# A job stream re-reads the job's row after this many seconds without an event, so a client sees
# progress even when events are lost (the channel layer reconnecting after a database restart).
JOB_ROW_FALLBACK_S = 1.0


def job_payload(job: Job, *, log_lines: int = LOG_LINES, trimmed: bool = False) -> dict[str, Any]:
    """The one representation of a job, for the API and (with fewer log lines) for its events.
    `trimmed`: its result's long lists replaced by their sizes (`payload_trimmed`), as in events
    and the jobs list; the whole result is at `/api/v1/jobs/{id}`."""
    return {
        "id": str(job.id),
        "kind": job.kind,
        "state": job.state,
        "progress": {
            "current": job.progress_current,
            "total": job.progress_total,
            "percent": job.percent,
            **job.progress,
        },
        "result": payload_trimmed(job.result, max_items=PAYLOAD_KEPT_ITEMS) if trimmed else job.result,
        "error": job.error,
        "traceback": job.traceback,
        "cancel_requested": job.cancel_requested,
        "owner_surface": job.owner_surface,
        "owner_ref": job.owner_ref,
        "parent_id": str(job.parent_id) if job.parent_id else None,
        "attempts": job.attempts,
        "log": job.log[-log_lines:] if log_lines else [],
        "created_at": iso_time(job.created_at),
        "started_at": iso_time(job.started_at),
        "heartbeat_at": iso_time(job.heartbeat_at),
        "finished_at": iso_time(job.finished_at),
        "updated_at": iso_time(job.updated_at),
    }


def job_group(job_id: Any) -> str:
    """The channel-layer group of job `job_id`'s events."""
    return f"job.{job_id}"


def publish_job_event(job: Job, event: str) -> None:
    """Publish `event` with the job's payload to its group. A final event carries the row as saved
    last, not `job` as its caller holds it: a log line appended in SQL after the save (the reason
    a job was given up, `job_log_append`) is the line a client most needs, and no event follows."""
    if event in FINAL_EVENTS.values():
        job = Job.objects.filter(pk=job.pk).defer("params").first() or job
    events.publish(job_group(job.id), event, job_payload(job, log_lines=LOG_LINES_IN_EVENTS, trimmed=True))


def _job_row(job_id: str) -> dict[str, Any] | None:
    """The job's payload, or None while the database cannot be reached (the broken connection is
    closed, so the next read reconnects)."""
    try:
        return job_payload(Job.objects.defer("params").get(pk=job_id), trimmed=True)
    except DATABASE_LOST as error:
        logger.warning("the event stream of job %s could not read its row: %s", job_id, error)
        close_connection()
        return None


async def job_event_stream(
    *, job_id: str, fallback_s: float = JOB_ROW_FALLBACK_S, tick_s: float | None = None
) -> AsyncIterator[tuple[str, dict[str, Any]] | None]:
    """The events of one job: `state` with the job at once, `progress` as it happens, then its final
    event (`complete`, `error` or `cancelled`); each payload is the job (`job_payload`).

    Subscribes before reading the row, so nothing published in between is missed. When no event
    comes for `fallback_s` seconds the row is read again: a `progress` item when its progress
    changed, the final event when it finished; so a client always sees progress, lost events (the
    channel layer reconnecting after a database restart) or not. A progress already sent is not
    sent twice. With `tick_s`, a None comes after every `tick_s` seconds without an item (a waiter
    acts on silence); SSE views leave it None: the response sends the keep-alives.
    """
    loop = asyncio.get_running_loop()
    async with events.subscription(job_group(job_id)) as receive:
        # A connection the database dropped (a restart) is closed by the first try: the second reconnects.
        job = await sync_to_async(_job_row)(job_id) or job_payload(
            await Job.objects.defer("params").aget(pk=job_id), trimmed=True
        )
        yield "state", job
        last_item_at = loop.time()
        while job["state"] not in FINAL_EVENTS:
            message = await receive(timeout=fallback_s)
            if message is not None:
                event, payload = message
                if event == "progress" and payload["progress"] == job["progress"]:
                    continue
                job, last_item_at = payload, loop.time()
                yield event, payload
                if event in FINAL_EVENTS.values():
                    return
                continue
            row = await sync_to_async(_job_row)(job_id)
            if row is not None:
                changed = row["progress"] != job["progress"]
                job = row
                if changed and row["state"] not in FINAL_EVENTS:
                    last_item_at = loop.time()
                    yield "progress", row
                    continue
            if tick_s is not None and loop.time() - last_item_at >= tick_s:
                last_item_at = loop.time()
                yield None
        yield FINAL_EVENTS[job["state"]], job
