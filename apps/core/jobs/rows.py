"""The job's row: read it, append to its log, hand its id to django-q2."""

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from apps.core.errors import NotFound
from apps.core.models import Job

State = Job.State
ACTIVE_STATES = (State.PENDING, State.STARTED)

# A job's log keeps its last LOG_LINES lines, each cut to LOG_LINE_CHARS.
LOG_LINES = 200
LOG_LINE_CHARS = 1000
# A trimmed payload keeps lists of at most this many items (and 20,000 characters of JSON).
PAYLOAD_KEPT_ITEMS = 100


def job_get(*, job_id: str) -> Job:
    """The job `job_id`; NotFound when there is none (or the id is not a UUID)."""
    try:
        return Job.objects.get(pk=job_id)
    except (Job.DoesNotExist, ValidationError, ValueError):
        raise NotFound(f"job {job_id} not found") from None


def job_submit(job: Job) -> None:
    """Hand the job's id to django-q2, within the transaction that made the job PENDING.

    With the ORM broker the queued task is a row committed together with the job's (a process
    killed between two separate commits would leave the job PENDING with nothing queued for it);
    Redis is not transactional, so there the task is sent once the transaction commits."""
    if settings.Q_CLUSTER.get("orm"):
        with transaction.atomic():  # joins the caller's transaction
            _task_enqueue(job)
    else:
        transaction.on_commit(lambda: _task_enqueue(job))


def _task_enqueue(job: Job) -> None:
    from django_q.tasks import async_task

    async_task("apps.core.tasks.run_job", str(job.id), task_name=f"{job.kind}:{job.id}", group=job.kind)


def job_log_append(*, job_id: Any, line: str) -> None:
    """Append `line` to the log of job `job_id`, keeping its last LOG_LINES lines, in one UPDATE."""
    entry = {"at": iso_time(timezone.now()), "line": str(line)[:LOG_LINE_CHARS]}
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


def payload_trimmed(value: Any, *, max_items: int, max_chars: int = 20_000) -> Any:
    """`value` (a job's params or result) with every list longer than `max_items` or larger than
    `max_chars` characters of JSON, at any depth, replaced by `{"items": <its length>, "trimmed": true}`,
    and every string longer than `max_chars` by `{"chars": <its length>, "trimmed": true}`."""
    if isinstance(value, dict):
        return {key: payload_trimmed(item, max_items=max_items, max_chars=max_chars) for key, item in value.items()}
    if isinstance(value, list):
        if len(value) > max_items or len(json.dumps(value)) > max_chars:
            return {"items": len(value), "trimmed": True}
        return [payload_trimmed(item, max_items=max_items, max_chars=max_chars) for item in value]
    if isinstance(value, str) and len(value) > max_chars:
        return {"chars": len(value), "trimmed": True}
    return value


def job_payload_trim(*, job: Job, max_items: int = PAYLOAD_KEPT_ITEMS) -> None:
    """Shrink a finished job's params and result (`payload_trimmed`) once their one reader has them:
    a predict of 100,000 points would otherwise keep megabytes in the row, its API answer and its
    admin page. `job` is the row as its reader loaded it (not read again). Jobs still pending or
    running are left alone (a worker still needs the params)."""
    Job.objects.filter(pk=job.pk).exclude(state__in=ACTIVE_STATES).update(
        params=payload_trimmed(job.params, max_items=max_items),
        result=payload_trimmed(job.result, max_items=max_items),
    )


def iso_time(moment: Any) -> str | None:
    """`moment` as the API writes times (ISO 8601, `Z` for UTC); None for None."""
    return moment.isoformat().replace("+00:00", "Z") if moment else None
