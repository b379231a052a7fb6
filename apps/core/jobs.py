"""Background jobs: enqueue a function on django-q2, report progress from inside it.

    job = job_enqueue(kind="modelstore.download", func="apps.modelstore.tasks.download_model",
                      params={"model_id": "org/name"})

    def download_model(*, model_id: str) -> dict:    # runs on a worker
        for done, total in ...:
            jobs.check_cancelled()                   # raises JobCancelled when asked to stop
            jobs.progress(done, total, **DownloadProgress(bytes=done, ...))   # a TypedDict per kind
            jobs.log("fetched config.json")          # the job's last LOG_LINES lines
        return {"path": ...}                         # saved as the job's result

django-q2 carries only the job id; the `Job` row is the truth. Every change is saved and
published to the channel-layer group `job.<id>`, which the SSE endpoints relay.

Faults a job survives without a hand on the server:
- its worker dies: the next worker to start requeues it (`jobs_recover_orphans`);
- its worker hangs or vanishes on another host: while a job runs, a timer stamps `heartbeat_at`
  every MODELYARD_JOB_HEARTBEAT_S, and every worker's watchdog requeues STARTED jobs silent for
  MODELYARD_JOB_STALE_S (`jobs_recover_stale`), whatever their worker's PID says;
- the database restarts under it: the runner closes the broken connection and retries its saves
  with back-off for MODELYARD_JOB_DB_RETRY_S, then continues; when the job's own code hit the lost
  database, the job is requeued (it counts as an attempt).
A runner whose job was requeued meanwhile (it lost ownership of the row) stops at its next check
and records nothing: the row belongs to the new attempt.

A job may be a child of a parent job (a dataset run is a parent with a child per file): the
parent's progress is children finished / children, a parent whose function returned waits for its
children, and cancelling it cancels them.
"""

import asyncio
import json
import logging
import os
import socket
import threading
import time
import traceback as traceback_module
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, TypedDict, TypeVar

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from apps.core import events
from apps.core.errors import NotFound
from apps.core.models import Job

logger = logging.getLogger(__name__)

State = Job.State
ACTIVE_STATES = (State.PENDING, State.STARTED)

# The last event of a job's stream, by the state it ended in.
FINAL_EVENTS = {State.SUCCESS: "complete", State.FAILURE: "error", State.CANCELLED: "cancelled"}

# Progress is saved and published at most this often, except for the last step.
PROGRESS_MIN_INTERVAL_S = 0.2
# A job's log keeps its last LOG_LINES lines, each cut to LOG_LINE_CHARS; events carry the last few.
LOG_LINES = 200
LOG_LINE_CHARS = 1000
LOG_LINES_IN_EVENTS = 20
# Back-off between two tries to reach a lost database.
DB_RETRY_FIRST_S = 0.5
DB_RETRY_MAX_S = 5.0

# The errors of a lost database connection (server restarted, socket gone, connection closed).
DATABASE_LOST = (OperationalError, InterfaceError)

T = TypeVar("T")


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


_local = threading.local()


def worker_name() -> str:
    """`host:pid` of this process, as a job's `worker` column records it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def with_database(operation: Callable[[], T], *, what: str) -> T:
    """Run `operation` (a few ORM calls, outside any transaction); when the database connection
    was lost, close it and try again with back-off for MODELYARD_JOB_DB_RETRY_S, then re-raise."""
    deadline = time.monotonic() + settings.MODELYARD_JOB_DB_RETRY_S
    delay = DB_RETRY_FIRST_S
    while True:
        try:
            return operation()
        except DATABASE_LOST as error:
            if connection.in_atomic_block or time.monotonic() + delay > deadline:
                raise
            logger.warning("lost the database while %s (%s); trying again in %.1fs", what, error, delay)
            _close_connection()
            time.sleep(delay)
            delay = min(delay * 2, DB_RETRY_MAX_S)


def _close_connection() -> None:
    try:
        connection.close()
    except Exception:  # closing a connection whose server is gone may complain: it is closed anyway
        connection.connection = None


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
    """Create a PENDING job and hand its id to django-q2 once the transaction commits.

    `parent` makes it one child of a group (a job, or its id; `current_job_id()` from inside the
    parent's function). `owner_ref` is often built from a client's values (a model id): it is cut
    to its column."""
    import_string(func)  # fail now, not on the worker, when the path is wrong
    owner_ref = owner_ref[: Job._meta.get_field("owner_ref").max_length]
    parent_id = parent.pk if isinstance(parent, Job) else parent
    job = Job.objects.create(
        kind=kind,
        func=func,
        params=params or {},
        owner_surface=owner_surface,
        owner_ref=owner_ref,
        parent_id=parent_id,
    )
    if parent_id is not None:
        _parent_progress_update(parent_id)
    transaction.on_commit(lambda: _submit(job))
    return job


def _submit(job: Job) -> None:
    from django_q.tasks import async_task

    async_task("apps.core.tasks.run_job", str(job.id), task_name=f"{job.kind}:{job.id}", group=job.kind)


def job_get(*, job_id: str) -> Job:
    """The job `job_id`; NotFound when there is none (or the id is not a UUID)."""
    try:
        return Job.objects.get(pk=job_id)
    except (Job.DoesNotExist, ValidationError, ValueError):
        raise NotFound(f"job {job_id} not found") from None


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
        pending, running = _cancel_children(job, changed)
        job.cancel_requested = True
        if job.state == State.PENDING or _waits_for_children(job):
            _mark_cancelled(job, "cancelled before it started" if job.state == State.PENDING else "cancelled")
        job.save()
        if job.parent_id is not None and job.is_finished:
            _parent_progress_update(job.parent_id)
    for child in changed:
        publish_job_event(child, "cancelled" if child.is_finished else "state")
    publish_job_event(job, "cancelled" if job.is_finished else "state")
    return CancelReport(
        job=job, outcome="cancelled", pending_children_cancelled=pending, running_children_at_cancel=running
    )


def _cancel_children(job: Job, changed: list[Job]) -> tuple[int, int]:
    """Ask every unfinished descendant of `job` to stop; (pending cancelled, running asked)."""
    pending = running = 0
    for child in Job.objects.select_for_update().filter(parent=job, state__in=ACTIVE_STATES):
        more_pending, more_running = _cancel_children(child, changed)
        pending, running = pending + more_pending, running + more_running
        child.cancel_requested = True
        if child.state == State.PENDING or _waits_for_children(child):
            pending += child.state == State.PENDING
            _mark_cancelled(child, "cancelled with its parent")
        else:
            running += 1
        child.save()
        changed.append(child)
    return pending, running


def _mark_cancelled(job: Job, reason: str) -> None:
    job.state, job.finished_at, job.error = State.CANCELLED, timezone.now(), reason


def _waits_for_children(job: Job) -> bool:
    """A parent whose own function returned: STARTED with no worker, until its children end."""
    return job.state == State.STARTED and not job.worker and job.children.exists()


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
        return Job.objects.get(pk=running.job_id) if saved else None

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


def job_log_append(*, job_id: Any, line: str) -> None:
    """Append `line` to the log of job `job_id`, keeping its last LOG_LINES lines, in one UPDATE."""
    entry = {"at": _iso(timezone.now()), "line": str(line)[:LOG_LINE_CHARS]}
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE core_job SET log = ("
            "  SELECT COALESCE(jsonb_agg(entry ORDER BY position), '[]'::jsonb)"
            "  FROM jsonb_array_elements(core_job.log || jsonb_build_array(%s::jsonb))"
            "       WITH ORDINALITY AS lines(entry, position)"
            "  WHERE position > jsonb_array_length(core_job.log) + 1 - %s"
            "), updated_at = now() WHERE id = %s",
            [json.dumps(entry), LOG_LINES, job_id],
        )


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
                    _close_connection()
        finally:
            _close_connection()

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
    running = _RunningJob(job_id=str(job.id), worker=job.worker, attempt=job.attempts, extra=dict(job.progress))
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
        _close_connection()
        why = f"lost the database ({type(error).__name__})"
        with_database(lambda: _recover(job.pk, worker=running.worker, why=why), what=f"requeueing job {job.id}")
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
            _mark_cancelled(job, "cancelled before it started")
            job.save()
            if job.parent_id is not None:
                _parent_progress_update(job.parent_id)
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
        job = _owned(running).select_for_update().first()
        if job is None:
            logger.warning("job %s was requeued while this run went on; its end is not recorded", running.job_id)
            return None
        job.progress = running.extra  # the last progress report may have been coalesced
        job.result, job.error, job.traceback = result, error, tb
        unfinished = job.children.exclude(state__in=Job.FINISHED_STATES).count()
        if state == State.SUCCESS and job.children.exists():
            # The function returned; the group ends with its last child, failed if one failed.
            job.worker, job.heartbeat_at = "", None
            job.progress = {**job.progress, "message": f"waiting for {unfinished} child job(s)"}
            job.save()
            _parent_progress_update(job.pk)
            job.refresh_from_db()
            return job
        if unfinished:  # the parent itself failed or was cancelled: its children stop too
            _cancel_children(job, [])
        job.state, job.finished_at = state, timezone.now()
        if state == State.SUCCESS and job.progress_total is not None:
            job.progress_current = job.progress_total
        job.save()
        if job.parent_id is not None:
            _parent_progress_update(job.parent_id)
    return job


def _parent_progress_update(parent_id: Any) -> None:
    """Parent progress = children finished / children; a waiting parent ends with its last child."""
    with transaction.atomic():
        parent = Job.objects.select_for_update().filter(pk=parent_id).first()
        if parent is None or parent.is_finished:
            return
        counts = parent.children.aggregate(
            total=Count("pk"),
            finished=Count("pk", filter=Q(state__in=Job.FINISHED_STATES)),
            failed=Count("pk", filter=Q(state=State.FAILURE)),
        )
        parent.progress_current, parent.progress_total = counts["finished"], counts["total"]
        waiting = parent.state == State.STARTED and not parent.worker
        if waiting and counts["finished"] == counts["total"]:
            if parent.cancel_requested:
                parent.state, parent.error = State.CANCELLED, "cancelled"
            elif counts["failed"]:
                parent.state = State.FAILURE
                parent.error = f"{counts['failed']} of {counts['total']} child job(s) failed"
            else:
                parent.state = State.SUCCESS
            parent.finished_at = timezone.now()
            done = f"{counts['finished']} of {counts['total']} child job(s) done"
            parent.progress = {**parent.progress, "message": done}
        parent.save()
        final = parent.is_finished
        transaction.on_commit(lambda: publish_job_event(parent, FINAL_EVENTS[parent.state] if final else "progress"))
    if final and parent.parent_id is not None:
        _parent_progress_update(parent.parent_id)


# --- recovery of jobs whose worker died or went silent -------------------------------------------


def jobs_recover_orphans(*, cluster: set[int] | None = None) -> list[Job]:
    """Requeue (or fail, after too many attempts) STARTED jobs whose worker process is gone.

    Runs whenever a worker process starts (django-q2's post_spawn), so a cluster restart, or a
    worker that the cluster replaced after it died, never leaves a job STARTED for ever. Only
    workers of this host can be checked; `jobs_recover_stale` finds the others.
    `cluster`: the PIDs of the calling worker's own cluster (`core.processes.sibling_pids()`). A
    worker PID outside it is dead for us even if some process has it: an orphan of a killed
    cluster, or a PID reused since. Without it (a caller outside the cluster), a live PID counts.
    """
    host = socket.gethostname()
    recovered = []
    for job in Job.objects.filter(state=State.STARTED, worker__startswith=f"{host}:"):
        pid = int(job.worker.rsplit(":", 1)[1])
        if pid in cluster if cluster is not None else _process_alive(pid):
            continue
        recovered_job = _recover(job.pk, worker=job.worker, why="died")
        if recovered_job is not None:
            recovered.append(recovered_job)
    return recovered


def _stale() -> Q:
    cutoff = timezone.now() - timedelta(seconds=settings.MODELYARD_JOB_STALE_S)
    # A parent waiting for its children has no worker and no heartbeat: it is not stale.
    return (
        Q(state=State.STARTED)
        & ~Q(worker="")
        & (Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff))
    )


def jobs_recover_stale(*, kind: str | None = None, job_id: Any = None) -> list[Job]:
    """Requeue (or fail, after MODELYARD_JOB_MAX_ATTEMPTS) STARTED jobs whose worker sent no
    heartbeat for MODELYARD_JOB_STALE_S, whatever its PID says (it may be reused, hung, or on
    another host). Every worker runs this on a timer; joiners run it before joining a job."""
    stale = Job.objects.filter(_stale())
    if kind is not None:
        stale = stale.filter(kind=kind)
    if job_id is not None:
        stale = stale.filter(pk=job_id)
    recovered = []
    for job in stale:
        silent_s = (timezone.now() - (job.heartbeat_at or job.started_at)).total_seconds()
        recovered_job = _recover(job.pk, worker=job.worker, why=f"sent no heartbeat for {silent_s:.0f}s", only=_stale())
        if recovered_job is not None:
            recovered.append(recovered_job)
    return recovered


def jobs_recover(*, kind: str | None = None) -> list[Job]:
    """Both recoveries: call it before joining a running job, so nobody waits on a dead one."""
    recovered = [job for job in jobs_recover_orphans() if kind is None or job.kind == kind]
    return recovered + jobs_recover_stale(kind=kind)


def _recover(job_id: Any, *, worker: str, why: str, only: Q | None = None) -> Job | None:
    with transaction.atomic():
        candidates = Job.objects.select_for_update(skip_locked=True).filter(
            pk=job_id, state=State.STARTED, worker=worker
        )
        job = candidates.filter(only).first() if only is not None else candidates.first()
        if job is None:
            return None  # another worker got there first, or it came back to life
        max_attempts = settings.MODELYARD_JOB_MAX_ATTEMPTS
        if job.attempts >= max_attempts or job.cancel_requested:
            job.state = State.CANCELLED if job.cancel_requested else State.FAILURE
            job.error = (
                f"worker {worker} {why} while running this job; "
                f"gave up after {job.attempts} attempt(s) of {max_attempts}"
            )
            job.finished_at = timezone.now()
        else:
            job.state = State.PENDING
            job.progress = {**job.progress, "message": f"requeued: worker {worker} {why}"}
        job.worker, job.heartbeat_at = "", None
        job.save()
        job_log_append(job_id=job.pk, line=job.error or job.progress["message"])
        if job.state == State.PENDING:
            transaction.on_commit(lambda: _submit(job))
        elif job.parent_id is not None:
            _parent_progress_update(job.parent_id)
    logger.warning("job %s of worker %s (%s) is now %s", job.id, worker, why, job.state)
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


class _Watchdog(threading.Thread):
    """Every worker process runs one: requeues stale jobs every MODELYARD_JOB_HEARTBEAT_S."""

    def run(self) -> None:
        while True:
            time.sleep(settings.MODELYARD_JOB_HEARTBEAT_S)
            try:
                jobs_recover_stale()
            except DATABASE_LOST as error:
                logger.warning("stale-job check skipped: %s", error)
                _close_connection()
            except Exception:
                logger.exception("stale-job check failed")


_watchdog_lock = threading.Lock()
_watchdog_pid: int | None = None


def watchdog_start() -> None:
    """Start this process's stale-job watchdog (once per process; django-q2's post_spawn calls it)."""
    global _watchdog_pid
    with _watchdog_lock:
        if _watchdog_pid == os.getpid():
            return
        _watchdog_pid = os.getpid()
        _Watchdog(name="job-watchdog", daemon=True).start()


# --- waiting for a job (services that answer when it is done) -------------------------------------


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


# --- the one representation of a job, for the API and for events -------------------------------


def job_payload(job: Job, *, log_lines: int = LOG_LINES) -> dict[str, Any]:
    """The one representation of a job, for the API and (with fewer log lines) for its events."""
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
        "parent_id": str(job.parent_id) if job.parent_id else None,
        "attempts": job.attempts,
        "log": job.log[-log_lines:] if log_lines else [],
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "heartbeat_at": _iso(job.heartbeat_at),
        "finished_at": _iso(job.finished_at),
        "updated_at": _iso(job.updated_at),
    }


def _iso(moment: Any) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


# --- events: published on the channel layer, relayed by SSE ----------------------------------


def job_group(job_id: Any) -> str:
    return f"job.{job_id}"


def publish_job_event(job: Job, event: str) -> None:
    events.publish(job_group(job.id), event, job_payload(job, log_lines=LOG_LINES_IN_EVENTS))


# A job stream re-reads the job's row after this many seconds without an event, so a client sees
# progress even when events are lost (the channel layer reconnecting after a database restart).
JOB_ROW_FALLBACK_S = 1.0


def _job_row(job_id: str) -> dict[str, Any] | None:
    """The job's payload, or None while the database cannot be reached (the broken connection is
    closed, so the next read reconnects)."""
    try:
        return job_payload(Job.objects.get(pk=job_id))
    except DATABASE_LOST as error:
        logger.warning("the event stream of job %s could not read its row: %s", job_id, error)
        _close_connection()
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
        job = await sync_to_async(_job_row)(job_id) or job_payload(await Job.objects.aget(pk=job_id))
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
