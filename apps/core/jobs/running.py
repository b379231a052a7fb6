"""Enqueue and cancel a job (services and views), report from inside it (the job's own code), and
run it (the worker side: django-q2 calls `apps.core.tasks.run_job`)."""

import logging
import threading
import time
import traceback as traceback_module
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from apps.core.jobs.database import DATABASE_LOST, close_connection, with_database
from apps.core.jobs.parents import cancel_children, mark_cancelled, parent_progress_update, waits_for_children
from apps.core.jobs.recovery import job_requeue
from apps.core.jobs.rows import PAYLOAD_KEPT_ITEMS, State, job_get, job_log_append, job_submit, payload_trimmed
from apps.core.jobs.streams import FINAL_EVENTS, publish_job_event
from apps.core.models import Job
from apps.core.processes import process_name

logger = logging.getLogger(__name__)

# Progress is saved and published at most this often, except for the last step.
PROGRESS_MIN_INTERVAL_S = 0.2


class JobProgress(TypedDict, total=False):
    """What every job kind's progress payload may carry; each kind declares its own next to it."""

    message: str


class JobFailed(Exception):
    """Raise inside a job to give up on purpose: the job fails with this message, no traceback."""


class JobCancelled(Exception):
    """Raised by `check_cancelled()` when someone asked the running job to stop."""


@dataclass(frozen=True)
class CancelReport:
    """What a cancel did. The jobs API answers 409 unless `outcome` is "cancelled"; the projects
    spec's task cancel answers 200 with `already_completed` / `already_cancelled`."""

    job: Job
    outcome: Literal["cancelled", "already_completed", "already_cancelled"]
    pending_children_cancelled: int = 0
    running_children_at_cancel: int = 0

    @property
    def cancelled(self) -> bool:
        """The job is, or is about to be, cancelled (also when it already was)."""
        return self.outcome != "already_completed"

    @property
    def already_completed(self) -> bool:
        return self.outcome == "already_completed"

    @property
    def already_cancelled(self) -> bool:
        return self.outcome == "already_cancelled"


@dataclass
class _RunningJob:
    job_id: str
    worker: str
    attempt: int
    last_saved: float = 0.0
    extra: dict = field(default_factory=dict)
    lost: bool = False  # the row was requeued and now belongs to another attempt
    params: dict = field(default_factory=dict)  # as claimed: the row is never read again for them
    trim_params_at_end: bool = False  # `params_trim_at_end`


_local = threading.local()


def worker_name() -> str:
    """`host:pid` of this process, as a job's `worker` column records it."""
    return process_name()


# --- enqueue and cancel (called from services and views) -----------------------------------------


def job_enqueue(
    *,
    kind: str,
    func: str,
    params: dict[str, Any] | None = None,
    owner_surface: str = "",
    owner_ref: str = "",
    parent: Job | str | None = None,
) -> Job:
    """Create a PENDING job and hand its id to django-q2 (`job_submit`: in the same transaction).

    `parent` makes it one child of a group (a job, or its id; `current_job_id()` from inside the
    parent's function). `owner_ref` is often built from a client's values (a model id): it is cut
    to its column."""
    import_string(func)  # fail now, not on the worker, when the path is wrong
    owner_ref = owner_ref[: Job._meta.get_field("owner_ref").max_length]
    parent_id = parent.pk if isinstance(parent, Job) else parent
    with transaction.atomic():  # the row and its queued task, together
        job = Job.objects.create(
            kind=kind,
            func=func,
            params=params or {},
            owner_surface=owner_surface,
            owner_ref=owner_ref,
            parent_id=parent_id,
        )
        if parent_id is not None:
            parent_progress_update(parent_id)
        job_submit(job)
    return job


def job_cancel(*, job_id: str) -> CancelReport:
    """Cancel a job and its children: pending ones at once, running ones at their next check.

    Never raises for a finished job: the report says it was already completed or cancelled."""
    changed: list[Job] = []
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_get(job_id=job_id).pk)
        if job.state == State.CANCELLED:
            return CancelReport(job=job, outcome="already_cancelled")
        if job.is_finished:
            return CancelReport(job=job, outcome="already_completed")
        pending, running = cancel_children(job, changed)
        job.cancel_requested = True
        if job.state == State.PENDING or waits_for_children(job):
            mark_cancelled(job, "cancelled before it started" if job.state == State.PENDING else "cancelled")
        job.save()
        if job.parent_id is not None and job.is_finished:
            parent_progress_update(job.parent_id)
    for child in changed:
        publish_job_event(child, "cancelled" if child.is_finished else "state")
    publish_job_event(job, "cancelled" if job.is_finished else "state")
    return CancelReport(
        job=job, outcome="cancelled", pending_children_cancelled=pending, running_children_at_cancel=running
    )


# --- inside a running job -----------------------------------------------------------------------


def current_job_id() -> str | None:
    """The id of the job this thread runs; None outside a job."""
    running = getattr(_local, "job", None)
    return running.job_id if running else None


def _running() -> _RunningJob | None:
    return getattr(_local, "job", None)


def _owned(running: _RunningJob) -> Any:
    """The row while it still belongs to this run (not requeued to another attempt)."""
    return Job.objects.filter(pk=running.job_id, state=State.STARTED, worker=running.worker, attempts=running.attempt)


def progress(current: int | None = None, total: int | None = None, **extra: Any) -> None:
    """Report progress of the running job: saved on its row (with a heartbeat) and published live.

    `extra` is the job kind's progress payload (a TypedDict declared next to the job), merged
    into the job's `progress`. Calls closer together than PROGRESS_MIN_INTERVAL_S are coalesced,
    except the last step. A lost database is waited for (see `with_database`).
    """
    running = _running()
    if running is None:
        return  # called outside a job (a service run inline): nothing to report to
    running.extra.update(extra)
    now = time.monotonic()
    is_last_step = total is not None and current is not None and current >= total
    if running.lost or (not is_last_step and now - running.last_saved < PROGRESS_MIN_INTERVAL_S):
        return
    running.last_saved = now

    def save() -> Job | None:
        stamp = timezone.now()
        saved = _owned(running).update(
            progress_current=current,
            progress_total=total,
            progress=running.extra,
            heartbeat_at=stamp,
            updated_at=stamp,
        )
        return Job.objects.defer("params").get(pk=running.job_id) if saved else None

    job = with_database(save, what=f"saving the progress of job {running.job_id}")
    if job is None:
        running.lost = True  # requeued meanwhile: check_cancelled() stops this run
        return
    publish_job_event(job, "progress")


def log(line: str) -> None:
    """Add a line to the running job's log (its last LOG_LINES lines are kept)."""
    running = _running()
    if running is None:
        logger.info("%s", line)
        return
    with_database(lambda: job_log_append(job_id=running.job_id, line=line), what="saving a log line")


def params_trim_at_end() -> None:
    """Let the running job's row keep only the sizes of its large params once this run ends
    (`payload_trimmed`, saved with its end in one transaction): a job whose inputs are large
    (100,000 points to score) is done with them then, and its row, API answer and admin page stay
    small. A run that never ends (its worker died) keeps the full params, so the job can run again."""
    running = _running()
    if running is not None:
        running.trim_params_at_end = True


def cancelled() -> bool:
    """True when someone asked the running job to stop, or the job was requeued to another run."""
    running = _running()
    if running is None:
        return False
    if running.lost:
        return True

    def read() -> bool:
        row = (
            Job.objects.filter(pk=running.job_id)
            .values("cancel_requested", "state", "worker", "attempts", "parent__cancel_requested")
            .first()
        )
        if row is None:
            return True
        if (row["state"], row["worker"], row["attempts"]) != (State.STARTED, running.worker, running.attempt):
            running.lost = True
        return running.lost or row["cancel_requested"] or bool(row["parent__cancel_requested"])

    return with_database(read, what=f"checking whether job {running.job_id} was cancelled")


def check_cancelled() -> None:
    """Raise JobCancelled when the running job should stop (see `cancelled`)."""
    if cancelled():
        raise JobCancelled()


class _Heartbeat(threading.Thread):
    """Stamps `heartbeat_at` of the running job every MODELYARD_JOB_HEARTBEAT_S, so a job whose
    code is busy (a long computation, a slow read) is not taken for dead."""

    def __init__(self, running: _RunningJob) -> None:
        super().__init__(name=f"job-heartbeat-{running.job_id[:8]}", daemon=True)
        self.running = running
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while not self.done.wait(settings.MODELYARD_JOB_HEARTBEAT_S):
                try:
                    _owned(self.running).update(heartbeat_at=timezone.now())
                except DATABASE_LOST as error:
                    logger.warning("heartbeat of job %s not saved: %s", self.running.job_id, error)
                    close_connection()
        finally:
            close_connection()

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=2)


# --- the worker side (django-q2 calls apps.core.tasks.run_job) -------------------------------------


def job_run(*, job_id: str) -> None:
    """Claim the job, run its function with a heartbeat, and record how it ended."""
    job = with_database(lambda: _claim(job_id), what=f"claiming job {job_id}")
    if job is None:
        return
    publish_job_event(job, "state")
    running = _RunningJob(
        job_id=str(job.id), worker=job.worker, attempt=job.attempts, extra=dict(job.progress), params=job.params
    )
    _local.job = running
    heartbeat = _Heartbeat(running)
    heartbeat.start()
    try:
        result = import_string(job.func)(**job.params)
    except JobCancelled:
        _end(running, State.CANCELLED, error="cancelled while running")
    except JobFailed as failure:
        _end(running, State.FAILURE, error=str(failure) or "failed")
    except DATABASE_LOST as error:  # the job's own code lost the database: run it again
        logger.warning("job %s (%s) lost the database: %s", job.id, job.kind, error)
        close_connection()
        why = f"lost the database ({type(error).__name__})"
        with_database(lambda: job_requeue(job.pk, worker=running.worker, why=why), what=f"requeueing job {job.id}")
    except Exception as error:  # a crash: keep the traceback for the admin and the API
        logger.exception("job %s (%s) crashed", job.id, job.kind)
        _end(running, State.FAILURE, error=f"{type(error).__name__}: {error}", tb=traceback_module.format_exc())
    else:
        _end(running, State.SUCCESS, result=result)
    finally:
        heartbeat.stop()
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
        parent_cancelled = Job.objects.filter(pk=job.parent_id, cancel_requested=True).exists()
        if job.cancel_requested or parent_cancelled:
            mark_cancelled(job, "cancelled before it started")
            job.save()
            if job.parent_id is not None:
                parent_progress_update(job.parent_id)
            return None
        job.state = State.STARTED
        job.started_at = job.heartbeat_at = timezone.now()
        job.worker = worker_name()
        job.attempts += 1
        job.save()
    return job


def _end(running: _RunningJob, state: str, *, result: Any = None, error: str = "", tb: str = "") -> None:
    job = with_database(
        lambda: _finish(running, state, result=result, error=error, tb=tb),
        what=f"recording the end of job {running.job_id}",
    )
    if job is not None:
        publish_job_event(job, FINAL_EVENTS.get(job.state, "state"))


def _finish(running: _RunningJob, state: str, *, result: Any, error: str, tb: str) -> Job | None:
    """Record how the run ended, unless the row was requeued to another attempt meanwhile."""
    with transaction.atomic():
        job = _owned(running).select_for_update().defer("params").first()
        if job is None:
            logger.warning("job %s was requeued while this run went on; its end is not recorded", running.job_id)
            return None
        job.progress = running.extra  # the last progress report may have been coalesced
        job.result, job.error, job.traceback = result, error, tb
        if running.trim_params_at_end:
            job.params = payload_trimmed(running.params, max_items=PAYLOAD_KEPT_ITEMS)
        unfinished = job.children.exclude(state__in=Job.FINISHED_STATES).count()
        if state == State.SUCCESS and job.children.exists():
            # The function returned; the group ends with its last child, failed if one failed.
            job.worker, job.heartbeat_at = "", None
            job.progress = {**job.progress, "message": f"waiting for {unfinished} child job(s)"}
            job.save()
            parent_progress_update(job.pk)
            job.refresh_from_db()
            return job
        if unfinished:  # the parent itself failed or was cancelled: its children stop too
            cancel_children(job, [])
        job.state, job.finished_at = state, timezone.now()
        if state == State.SUCCESS and job.progress_total is not None:
            job.progress_current = job.progress_total
        job.save()
        if job.parent_id is not None:
            parent_progress_update(job.parent_id)
    return job
