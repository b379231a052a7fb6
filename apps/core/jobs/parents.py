"""Parent and child jobs (a dataset run is a parent with a child per file): the parent's progress
is children finished / children, a parent whose function returned waits for its children, and
cancelling it cancels them."""

from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from apps.core.jobs.rows import ACTIVE_STATES, State
from apps.core.jobs.streams import FINAL_EVENTS, publish_job_event
from apps.core.models import Job


def cancel_children(job: Job, changed: list[Job]) -> tuple[int, int]:
    """Ask every unfinished descendant of `job` to stop; (pending cancelled, running asked).

    Each child changed is appended to `changed`, for the caller to publish after its commit."""
    pending = running = 0
    for child in Job.objects.select_for_update().filter(parent=job, state__in=ACTIVE_STATES):
        more_pending, more_running = cancel_children(child, changed)
        pending, running = pending + more_pending, running + more_running
        child.cancel_requested = True
        if child.state == State.PENDING or waits_for_children(child):
            pending += child.state == State.PENDING
            mark_cancelled(child, "cancelled with its parent")
        else:
            running += 1
        child.save()
        changed.append(child)
    return pending, running


def mark_cancelled(job: Job, reason: str) -> None:
    """Set the job CANCELLED now, for `reason` (the caller saves it)."""
    job.state, job.finished_at, job.error = State.CANCELLED, timezone.now(), reason


def waits_for_children(job: Job) -> bool:
    """A parent whose own function returned: STARTED with no worker, until its children end."""
    return job.state == State.STARTED and not job.worker and job.children.exists()


def parent_progress_update(parent_id: Any) -> None:
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
        parent_progress_update(parent.parent_id)
