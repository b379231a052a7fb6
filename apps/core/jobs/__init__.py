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

Where things live (import them from `apps.core.jobs`, which re-exports the public API):
- `running`: enqueue and cancel, what a job's code calls (progress, log, check_cancelled), the worker side;
- `recovery`: orphans of dead workers, stale jobs, the watchdog;
- `streams`: the job's payload, its channel-layer group, publishing, the event stream;
- `waiting`: `job_wait`;
- `parents`: parent and child jobs; `rows`: reading the row, its log, trimming its payload, handing
  it to django-q2;
- `database`: retrying after the database was lost.
"""

from apps.core.jobs.database import DATABASE_LOST, DB_RETRY_FIRST_S, DB_RETRY_MAX_S, with_database
from apps.core.jobs.recovery import (
    jobs_recover,
    jobs_recover_orphans,
    jobs_recover_stale,
    jobs_recover_undelivered,
    watchdog_start,
)
from apps.core.jobs.rows import (
    ACTIVE_STATES,
    LOG_LINE_CHARS,
    LOG_LINES,
    PAYLOAD_KEPT_ITEMS,
    State,
    job_get,
    job_log_append,
    job_payload_trim,
    payload_trimmed,
)
from apps.core.jobs.running import (
    PROGRESS_MIN_INTERVAL_S,
    CancelReport,
    JobCancelled,
    JobFailed,
    JobProgress,
    cancelled,
    check_cancelled,
    current_job_id,
    job_cancel,
    job_enqueue,
    job_run,
    log,
    params_trim_at_end,
    progress,
    worker_name,
)
from apps.core.jobs.streams import (
    FINAL_EVENTS,
    JOB_ROW_FALLBACK_S,
    LOG_LINES_IN_EVENTS,
    job_event_stream,
    job_group,
    job_payload,
    publish_job_event,
)
from apps.core.jobs.waiting import job_wait

__all__ = [
    "ACTIVE_STATES",
    "DATABASE_LOST",
    "DB_RETRY_FIRST_S",
    "DB_RETRY_MAX_S",
    "FINAL_EVENTS",
    "JOB_ROW_FALLBACK_S",
    "LOG_LINES",
    "PAYLOAD_KEPT_ITEMS",
    "LOG_LINES_IN_EVENTS",
    "LOG_LINE_CHARS",
    "PROGRESS_MIN_INTERVAL_S",
    "CancelReport",
    "JobCancelled",
    "JobFailed",
    "JobProgress",
    "State",
    "cancelled",
    "check_cancelled",
    "current_job_id",
    "job_cancel",
    "job_enqueue",
    "job_event_stream",
    "job_get",
    "job_group",
    "job_log_append",
    "job_payload",
    "job_payload_trim",
    "job_run",
    "job_wait",
    "jobs_recover",
    "jobs_recover_orphans",
    "jobs_recover_stale",
    "jobs_recover_undelivered",
    "log",
    "params_trim_at_end",
    "payload_trimmed",
    "progress",
    "publish_job_event",
    "watchdog_start",
    "with_database",
    "worker_name",
]
