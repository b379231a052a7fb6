"""A synchronous runner of dataset runs for the tests: it does what the workers do with a run's
jobs (the parent, which queues a job per file, then each file's job in order)."""

from apps.core import jobs
from apps.core.models import Job


def run_parent(task_id: str) -> list[Job]:
    """Run a dataset run's parent job as a worker would; its children (queued, not run)."""
    jobs.job_run(job_id=task_id)
    return list(Job.objects.filter(parent_id=task_id).order_by("created_at"))


def run_task(task_id: str) -> None:
    """Run a whole dataset run synchronously: the parent, then each file's job in order."""
    for child in run_parent(task_id):
        jobs.job_run(job_id=str(child.pk))
