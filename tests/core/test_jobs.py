"""core.jobs: enqueue, run, progress, cancel, failure, and recovery of jobs whose worker died."""

import socket
import subprocess

import pytest
from django_q.models import OrmQ

from apps.core import jobs
from apps.core.errors import Conflict, NotFound
from apps.core.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


def enqueue(func: str, **params: object) -> Job:
    return jobs.job_enqueue(kind="test", func=f"tests.fakes.jobs.{func}", params=params)


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_enqueue_creates_a_pending_job_and_a_worker_task():
    job = enqueue("count_steps", steps=2, pause_s=0)

    assert job.state == Job.State.PENDING
    assert OrmQ.objects.count() == 1


def test_enqueue_rejects_a_function_that_does_not_exist():
    with pytest.raises(ImportError):
        jobs.job_enqueue(kind="test", func="tests.fakes.jobs.no_such_function")
    assert Job.objects.count() == 0


def test_an_owner_ref_longer_than_its_column_is_cut_to_it_not_a_database_error():
    job = jobs.job_enqueue(kind="test", func="tests.fakes.jobs.count_steps", owner_ref="local/" + "m" * 300)

    assert Job.objects.get(pk=job.pk).owner_ref == ("local/" + "m" * 300)[:255]


def test_a_job_that_returns_succeeds_with_its_result_and_full_progress():
    job = enqueue("count_steps", steps=3, pause_s=0)

    jobs.job_run(job_id=str(job.id))

    job.refresh_from_db()
    assert job.state == Job.State.SUCCESS
    assert job.result == {"steps": 3}
    assert (job.progress_current, job.progress_total) == (3, 3)
    assert job.progress["message"] == "step 3 of 3"
    assert job.started_at and job.finished_at and job.attempts == 1


def test_a_job_that_gives_up_fails_with_its_reason_and_no_traceback():
    job = enqueue("give_up", reason="disk full")

    jobs.job_run(job_id=str(job.id))

    job.refresh_from_db()
    assert (job.state, job.error, job.traceback) == (Job.State.FAILURE, "disk full", "")


def test_a_job_that_crashes_fails_with_its_traceback():
    job = enqueue("crash")

    jobs.job_run(job_id=str(job.id))

    job.refresh_from_db()
    assert job.state == Job.State.FAILURE
    assert job.error == "RuntimeError: boom"
    assert "Traceback" in job.traceback and "RuntimeError" in job.traceback


def test_a_job_runs_once_even_when_delivered_twice():
    job = enqueue("count_steps", steps=1, pause_s=0)
    jobs.job_run(job_id=str(job.id))
    jobs.job_run(job_id=str(job.id))

    job.refresh_from_db()
    assert job.attempts == 1


def test_cancelling_a_pending_job_cancels_it_at_once_and_it_never_runs():
    job = enqueue("count_steps", steps=1, pause_s=0)

    jobs.job_cancel(job_id=str(job.id))
    jobs.job_run(job_id=str(job.id))

    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED
    assert job.attempts == 0


def test_a_running_job_stops_at_its_next_check_when_cancelled():
    job = enqueue("cancel_itself")

    jobs.job_run(job_id=str(job.id))

    job.refresh_from_db()
    assert (job.state, job.error, job.progress_current) == (Job.State.CANCELLED, "cancelled while running", 1)


def test_cancelling_a_finished_job_is_a_conflict():
    job = enqueue("count_steps", steps=1, pause_s=0)
    jobs.job_run(job_id=str(job.id))

    with pytest.raises(Conflict):
        jobs.job_cancel(job_id=str(job.id))


def test_an_unknown_job_is_not_found():
    with pytest.raises(NotFound):
        jobs.job_get(job_id="not-a-uuid")
    with pytest.raises(NotFound):
        jobs.job_get(job_id="00000000-0000-0000-0000-000000000000")


def test_progress_outside_a_job_is_ignored():
    jobs.progress(1, 2, message="nothing to report to")
    assert not jobs.cancelled()


def test_a_job_of_a_dead_worker_is_requeued_when_a_worker_starts():
    job = enqueue("count_steps", steps=1, pause_s=0)
    OrmQ.objects.all().delete()
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.STARTED, attempts=1, worker=f"{socket.gethostname()}:{dead_pid()}"
    )

    recovered = jobs.jobs_recover_orphans()

    job.refresh_from_db()
    assert [j.pk for j in recovered] == [job.pk]
    assert job.state == Job.State.PENDING
    assert "died" in job.progress["message"]
    assert OrmQ.objects.count() == 1  # handed to the workers again


def test_a_job_of_a_dead_worker_fails_with_a_reason_after_its_last_attempt(settings):
    settings.MODELYARD_JOB_MAX_ATTEMPTS = 2
    job = enqueue("count_steps", steps=1, pause_s=0)
    worker = f"{socket.gethostname()}:{dead_pid()}"
    Job.objects.filter(pk=job.pk).update(state=Job.State.STARTED, attempts=2, worker=worker)

    jobs.jobs_recover_orphans()

    job.refresh_from_db()
    assert job.state == Job.State.FAILURE
    assert job.error == f"worker {worker} died while running this job; gave up after 2 attempt(s) of 2"


def test_a_job_of_a_live_worker_is_left_alone():
    job = enqueue("count_steps", steps=1, pause_s=0)
    Job.objects.filter(pk=job.pk).update(state=Job.State.STARTED, attempts=1, worker=jobs.worker_name())

    assert jobs.jobs_recover_orphans() == []
    job.refresh_from_db()
    assert job.state == Job.State.STARTED
