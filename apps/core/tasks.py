"""django-q2 entry points: thin, they hand the job id to `core.jobs`."""

from apps.core import jobs


def run_job(job_id: str) -> None:
    jobs.job_run(job_id=job_id)
