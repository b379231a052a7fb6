"""Background jobs: enqueue a function on django-q2, report progress from inside it.

    job = job_enqueue(kind="modelstore.download", func="apps.modelstore.downloads.download_run",
                      params={"model_id": "org/name"})

    def download_run(*, model_id: str) -> dict:      # runs on a worker
        for done, total in ...:
            jobs.check_cancelled()                   # raises JobCancelled when asked to stop
            jobs.progress(done, total, bytes=done, speed=...)
        return {"path": ...}                         # saved as the job's result

django-q2 carries only the job id; the `Job` row is the truth. Every change is saved and
published to the channel-layer group `job.<id>`, which the SSE endpoints relay.
"""

import logging
import os
import socket
import threading
import time
import traceback as traceback_module
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from apps.core import events
from apps.core.errors import Conflict, NotFound
from apps.core.models import Job

logger = logging.getLogger(__name__)

State = Job.State

# The last event of a job's stream, by the state it ended in.
FINAL_EVENTS = {State.SUCCESS: "complete", State.FAILURE: "error", State.CANCELLED: "cancelled"}

# Progress is saved and published at most this often, except for the last step.
PROGRESS_MIN_INTERVAL_S = 0.2


class JobFailed(Exception):
    """Raise inside a job to give up on purpose: the job fails with this message, no traceback."""


class JobCancelled(Exception):
    """Raised by `check_cancelled()` when someone asked the running job to stop."""


@dataclass
class _RunningJob:
    job_id: str
    last_saved: float = 0.0
    extra: dict = field(default_factory=dict)


_local = threading.local()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --- enqueue and cancel (called from services and views) -----------------------------------------


def job_enqueue(
    *,
    kind: str,
    func: str,
    params: dict[str, Any] | None = None,
    owner_surface: str = "",
    owner_ref: str = "",
) -> Job:
    """Create a PENDING job and hand its id to django-q2 once the transaction commits.

    `owner_ref` is often built from a client's values (a model id): it is cut to its column."""
    import_string(func)  # fail now, not on the worker, when the path is wrong
    owner_ref = owner_ref[: Job._meta.get_field("owner_ref").max_length]
    job = Job.objects.create(
        kind=kind, func=func, params=params or {}, owner_surface=owner_surface, owner_ref=owner_ref
    )
    transaction.on_commit(lambda: _submit(job))
    return job


def _submit(job: Job) -> None:
    from django_q.tasks import async_task

    async_task("apps.core.tasks.run_job", str(job.id), task_name=f"{job.kind}:{job.id}", group=job.kind)


def job_get(*, job_id: str) -> Job:
    try:
        return Job.objects.get(pk=job_id)
    except (Job.DoesNotExist, ValidationError, ValueError):
        raise NotFound(f"job {job_id} not found") from None


def job_cancel(*, job_id: str) -> Job:
    """Cancel a pending job at once; ask a running one to stop at its next check."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_get(job_id=job_id).pk)
        if job.is_finished:
            raise Conflict(f"job {job.id} already finished ({job.state})", state=job.state)
        job.cancel_requested = True
        if job.state == State.PENDING:
            job.state = State.CANCELLED
            job.finished_at = timezone.now()
            job.error = "cancelled before it started"
        job.save()
    publish_job_event(job, "cancelled" if job.is_finished else "state")
    return job


# --- inside a running job -----------------------------------------------------------------------


def current_job_id() -> str | None:
    running = getattr(_local, "job", None)
    return running.job_id if running else None


def progress(current: int | None = None, total: int | None = None, **extra: Any) -> None:
    """Report progress of the running job: saved on its row and published live.

    `extra` is free-form (bytes, speed, eta, message…) and merges into the job's `progress`.
    Calls closer together than PROGRESS_MIN_INTERVAL_S are coalesced, except the last step.
    """
    running: _RunningJob | None = getattr(_local, "job", None)
    if running is None:
        return  # called outside a job (a service run inline): nothing to report to
    running.extra.update(extra)
    now = time.monotonic()
    is_last_step = total is not None and current is not None and current >= total
    if not is_last_step and now - running.last_saved < PROGRESS_MIN_INTERVAL_S:
        return
    running.last_saved = now
    Job.objects.filter(pk=running.job_id).update(
        progress_current=current, progress_total=total, progress=running.extra, updated_at=timezone.now()
    )
    publish_job_event(Job.objects.get(pk=running.job_id), "progress")


def cancelled() -> bool:
    """True when someone asked the running job to stop."""
    job_id = current_job_id()
    return bool(job_id) and Job.objects.filter(pk=job_id, cancel_requested=True).exists()


def check_cancelled() -> None:
    if cancelled():
        raise JobCancelled()


# --- the worker side (django-q2 calls apps.core.tasks.run_job) -------------------------------------


def job_run(*, job_id: str) -> None:
    """Claim the job, run its function, and record how it ended."""
    job = _claim(job_id)
    if job is None:
        return
    publish_job_event(job, "state")
    _local.job = _RunningJob(job_id=str(job.id), extra=dict(job.progress))
    try:
        result = import_string(job.func)(**job.params)
    except JobCancelled:
        _finish(job, State.CANCELLED, error="cancelled while running")
    except JobFailed as failure:
        _finish(job, State.FAILURE, error=str(failure) or "failed")
    except Exception as error:  # a crash: keep the traceback for the admin and the API
        logger.exception("job %s (%s) crashed", job.id, job.kind)
        _finish(job, State.FAILURE, error=f"{type(error).__name__}: {error}", tb=traceback_module.format_exc())
    else:
        _finish(job, State.SUCCESS, result=result)
    finally:
        _local.job = None


def _claim(job_id: str) -> Job | None:
    """Mark a PENDING job STARTED by this worker; None when there is nothing to run."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            logger.warning("job %s vanished before it ran", job_id)
            return None
        if job.state != State.PENDING:
            logger.info("job %s is %s, not running it again", job_id, job.state)
            return None
        if job.cancel_requested:
            job.state, job.finished_at, job.error = State.CANCELLED, timezone.now(), "cancelled before it started"
            job.save()
            return None
        job.state = State.STARTED
        job.started_at = timezone.now()
        job.worker = worker_name()
        job.attempts += 1
        job.save()
    return job


def _finish(job: Job, state: str, *, result: Any = None, error: str = "", tb: str = "") -> None:
    job.refresh_from_db()
    running: _RunningJob | None = getattr(_local, "job", None)
    if running is not None:
        job.progress = running.extra  # the last progress report may have been coalesced
    if state == State.SUCCESS and job.progress_total is not None:
        job.progress_current = job.progress_total
    job.state, job.result, job.error, job.traceback = state, result, error, tb
    job.finished_at = timezone.now()
    job.save()
    publish_job_event(job, FINAL_EVENTS[state])


# --- recovery of jobs whose worker died ---------------------------------------------------------


def jobs_recover_orphans() -> list[Job]:
    """Requeue (or fail, after too many attempts) STARTED jobs whose worker process is gone.

    Runs whenever a worker process starts (django-q2's post_spawn), so a cluster restart, or a
    worker that the cluster replaced after it died, never leaves a job STARTED for ever. Only
    workers of this host can be checked.
    """
    host = socket.gethostname()
    recovered = []
    for job in Job.objects.filter(state=State.STARTED, worker__startswith=f"{host}:"):
        pid = int(job.worker.rsplit(":", 1)[1])
        if _process_alive(pid):
            continue
        recovered_job = _recover(job.pk, dead_worker=job.worker)
        if recovered_job is not None:
            recovered.append(recovered_job)
    return recovered


def _recover(job_id: Any, *, dead_worker: str) -> Job | None:
    with transaction.atomic():
        job = (
            Job.objects.select_for_update(skip_locked=True)
            .filter(pk=job_id, state=State.STARTED, worker=dead_worker)
            .first()
        )
        if job is None:
            return None  # another worker got there first
        max_attempts = settings.MODELYARD_JOB_MAX_ATTEMPTS
        if job.attempts >= max_attempts or job.cancel_requested:
            job.state = State.CANCELLED if job.cancel_requested else State.FAILURE
            job.error = (
                f"worker {dead_worker} died while running this job; "
                f"gave up after {job.attempts} attempt(s) of {max_attempts}"
            )
            job.finished_at = timezone.now()
        else:
            job.state = State.PENDING
            job.progress = {**job.progress, "message": f"requeued: worker {dead_worker} died"}
        job.worker = ""
        job.save()
        if job.state == State.PENDING:
            transaction.on_commit(lambda: _submit(job))
    logger.warning("job %s of dead worker %s is now %s", job.id, dead_worker, job.state)
    publish_job_event(job, FINAL_EVENTS.get(job.state, "state"))
    return job


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _not_a_zombie(pid)


def _not_a_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


# --- the one representation of a job, for the API and for events -------------------------------


def job_payload(job: Job) -> dict[str, Any]:
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
        "result": job.result,
        "error": job.error,
        "traceback": job.traceback,
        "cancel_requested": job.cancel_requested,
        "owner_surface": job.owner_surface,
        "owner_ref": job.owner_ref,
        "attempts": job.attempts,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "updated_at": _iso(job.updated_at),
    }


def _iso(moment: Any) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


# --- events: published on the channel layer, relayed by SSE ----------------------------------


def job_group(job_id: Any) -> str:
    return f"job.{job_id}"


def publish_job_event(job: Job, event: str) -> None:
    events.publish(job_group(job.id), event, job_payload(job))


async def job_event_stream(*, job_id: str, poll_s: float = 5.0) -> AsyncIterator[tuple[str, dict] | None]:
    """The events of one job: its current state at once, then each event, then the final one.

    Subscribes before reading the row, so nothing published in between is missed. The row is
    re-read every `poll_s` seconds of silence (a safety net for a lost event); a None item then
    asks the SSE writer for a keep-alive comment.
    """
    async with events.subscription(job_group(job_id)) as receive:
        job = await Job.objects.aget(pk=job_id)
        yield "state", job_payload(job)
        while not job.is_finished:
            message = await receive(timeout=poll_s)
            if message is None:
                job = await Job.objects.aget(pk=job_id)
                if not job.is_finished:
                    yield None
                continue
            event, payload = message
            yield event, payload
            if event in FINAL_EVENTS.values():
                return
        yield FINAL_EVENTS[job.state], job_payload(job)
