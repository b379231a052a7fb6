"""Recovery of jobs whose worker died or went silent: orphans of a dead worker process of this host
(`jobs_recover_orphans`, at every worker start), jobs without a heartbeat for MODELYARD_JOB_STALE_S
(`jobs_recover_stale`, on every worker's watchdog timer), requeued or, after too many attempts, ended;
and PENDING jobs whose queued task a dead cluster had taken (`jobs_recover_undelivered`, same timer)."""

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.jobs.database import DATABASE_LOST, close_connection
from apps.core.jobs.parents import parent_progress_update
from apps.core.jobs.rows import State, job_log_append, job_submit
from apps.core.jobs.streams import FINAL_EVENTS, publish_job_event
from apps.core.models import Job
from apps.core.processes import application_name_of, process_name, sibling_pids

logger = logging.getLogger(__name__)


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
        recovered_job = job_requeue(job.pk, worker=job.worker, why="died")
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
        why = f"sent no heartbeat for {silent_s:.0f}s"
        worker_release(job.worker)  # before the job runs again: what the silent worker holds blocks it
        recovered_job = job_requeue(job.pk, worker=job.worker, why=why, only=_stale())
        if recovered_job is not None:
            recovered.append(recovered_job)
    return recovered


def jobs_recover_undelivered() -> int:
    """Make the queued tasks of PENDING jobs deliverable again when a cluster took them from the
    ORM broker MODELYARD_JOB_STALE_S ago or more without starting them; how many.

    A cluster takes tasks ahead of its free workers (django-q2 locks each for `retry` seconds,
    ours: the job timeout, a day); when it is killed, those it held stay locked for that long and
    their jobs PENDING. Releasing one that a live, busy cluster still holds only delivers it twice:
    the job runs once (`job_run` claims only a PENDING job). Redis has no such locks."""
    if not settings.Q_CLUSTER.get("orm"):
        return 0
    from django_q.models import OrmQ

    now = timezone.now()
    taken_before = now - timedelta(seconds=settings.MODELYARD_JOB_STALE_S)
    # A task is locked until it was taken + `retry`: taken before the cutoff <=> lock before cutoff + retry.
    held = OrmQ.objects.filter(lock__gt=now, lock__lt=taken_before + timedelta(seconds=settings.Q_CLUSTER["retry"]))
    pending = {str(pk) for pk in Job.objects.filter(state=State.PENDING).values_list("pk", flat=True)}
    lost = [task.pk for task in held if task.name().rpartition(":")[2] in pending]
    released = OrmQ.objects.filter(pk__in=lost, lock__gt=now).update(lock=now)
    if released:
        logger.warning("released %d queued job task(s) a cluster took and never started", released)
    return released


def worker_release(worker: str) -> None:
    """Free what the silent worker `worker` (`host:pid`) holds, so its job can run again: a frozen
    process (`kill -STOP`) keeps its database sessions, their session-level advisory locks, open
    transactions and its file locks for ever.

    A worker of this host is acted on only when it belongs to the calling worker's own cluster
    (`core.processes.sibling_pids`): it is killed (SIGKILL; django-q2 replaces it), and its
    sessions are ended. Any other process of this host is not a worker of ours (a reused PID, a
    test) and is left alone, as is this process itself. A worker of another host cannot be
    killed from here: its sessions are ended (`pg_terminate_backend`, by `application_name`)."""
    host, _, pid_text = worker.rpartition(":")
    if not pid_text.isdigit() or worker == process_name():
        return
    killed = False
    if host == socket.gethostname():
        pid = int(pid_text)
        if pid not in sibling_pids():
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            killed = True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            [application_name_of(worker)],
        )
        (ended,) = cursor.fetchone()
    done = "killed it, " if killed else ""
    logger.warning("silent worker %s: %sended its %d database session(s)", worker, done, ended)


def jobs_recover(*, kind: str | None = None) -> list[Job]:
    """Both recoveries: call it before joining a running job, so nobody waits on a dead one."""
    recovered = [job for job in jobs_recover_orphans() if kind is None or job.kind == kind]
    return recovered + jobs_recover_stale(kind=kind)


def job_requeue(job_id: Any, *, worker: str, why: str, only: Q | None = None) -> Job | None:
    """Requeue job `job_id`, STARTED by `worker` (which `why`: died, went silent, lost the database);
    after MODELYARD_JOB_MAX_ATTEMPTS, or when it was asked to stop, end it instead. `only` narrows
    the match (still stale). None when the row no longer matches: another worker got there first."""
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
            job_submit(job)
        elif job.parent_id is not None:
            parent_progress_update(job.parent_id)
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
                jobs_recover_undelivered()
            except DATABASE_LOST as error:
                logger.warning("stale-job check skipped: %s", error)
                close_connection()
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
