"""core.jobs under faults, run inline: heartbeats, stale jobs, a lost database, a run that lost its job."""

import socket
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ

from apps.core import jobs
from apps.core.models import Job
from tests.fakes.jobs import connection_drop

pytestmark = pytest.mark.django_db(transaction=True)


def enqueue(func: str, **params: object) -> Job:
    return jobs.job_enqueue(kind="test", func=f"tests.fakes.jobs.{func}", params=params)


def started_long_ago(job: Job, *, worker: str, attempts: int = 1, silent_s: float = 600) -> None:
    long_ago = timezone.now() - timedelta(seconds=silent_s)
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.STARTED, worker=worker, attempts=attempts, started_at=long_ago, heartbeat_at=long_ago
    )


def test_progress_stamps_the_heartbeat_of_the_running_job():
    job = enqueue("count_steps", steps=2, pause_s=0)

    jobs.job_run(job_id=str(job.id))

    job.refresh_from_db()
    assert job.heartbeat_at is not None and job.heartbeat_at >= job.started_at


def test_a_busy_job_that_reports_nothing_is_kept_alive_by_the_heartbeat_timer(settings):
    settings.MODELYARD_JOB_HEARTBEAT_S = 0.2
    job = enqueue("stay_busy", seconds=1.0)
    stamps = []

    def sample() -> None:  # another connection reads the row while the job says nothing
        for _ in range(4):
            threading.Event().wait(0.3)
            stamps.append(Job.objects.get(pk=job.pk).heartbeat_at)
        connection.close()

    sampler = threading.Thread(target=sample)
    sampler.start()
    jobs.job_run(job_id=str(job.id))
    sampler.join()

    assert len({stamp for stamp in stamps if stamp is not None}) >= 2  # it moved while the job was silent
    assert Job.objects.get(pk=job.pk).state == Job.State.SUCCESS


def test_a_started_job_with_an_old_heartbeat_and_a_live_pid_is_requeued():
    job = enqueue("count_steps", steps=1, pause_s=0)
    OrmQ.objects.all().delete()
    live_worker = jobs.worker_name()  # this very process: alive, yet not running the job
    started_long_ago(job, worker=live_worker)

    recovered = jobs.jobs_recover_stale()

    job.refresh_from_db()
    assert [j.pk for j in recovered] == [job.pk]
    assert (job.state, job.worker, job.heartbeat_at) == (Job.State.PENDING, "", None)
    assert job.progress["message"] == f"requeued: worker {live_worker} sent no heartbeat for 600s"
    assert job.log[-1]["line"] == job.progress["message"]
    assert OrmQ.objects.count() == 1  # handed to the workers again


def test_a_stale_job_fails_with_a_reason_after_its_last_attempt(settings):
    settings.MODELYARD_JOB_MAX_ATTEMPTS = 2
    job = enqueue("count_steps", steps=1, pause_s=0)
    started_long_ago(job, worker="elsewhere:4242", attempts=2)

    jobs.jobs_recover_stale()

    job.refresh_from_db()
    assert job.state == Job.State.FAILURE
    assert job.error == (
        "worker elsewhere:4242 sent no heartbeat for 600s while running this job; gave up after 2 attempt(s) of 2"
    )


def test_a_job_with_a_recent_heartbeat_is_not_stale(settings):
    settings.MODELYARD_JOB_STALE_S = 60
    job = enqueue("count_steps", steps=1, pause_s=0)
    started_long_ago(job, worker="elsewhere:4242", silent_s=30)

    assert jobs.jobs_recover_stale() == []
    job.refresh_from_db()
    assert job.state == Job.State.STARTED


def test_a_run_whose_job_was_requeued_and_claimed_elsewhere_stops_and_records_nothing():
    job = enqueue("taken_over_midway")

    jobs.job_run(job_id=str(job.id))

    job.refresh_from_db()
    assert (job.state, job.worker, job.attempts) == (Job.State.STARTED, "elsewhere:1", 2)
    assert (job.progress_current, job.error) == (1, "")  # the lost run's last step and end were not saved


def test_a_job_whose_connection_the_server_dropped_reconnects_and_completes():
    job = enqueue("lose_connection_then_report", steps=3)

    jobs.job_run(job_id=str(job.id))

    job.refresh_from_db()
    assert (job.state, job.result, job.attempts) == (Job.State.SUCCESS, {"steps": 3}, 1)
    assert (job.progress_current, job.progress_total, job.progress["message"]) == (3, 3, "step 3 of 3")


def test_a_job_whose_own_query_lost_the_database_is_requeued_as_an_attempt():
    job = enqueue("lose_database_in_own_code")
    OrmQ.objects.all().delete()
    worker = jobs.worker_name()

    jobs.job_run(job_id=str(job.id))

    job.refresh_from_db()
    assert (job.state, job.attempts, job.error) == (Job.State.PENDING, 1, "")
    assert job.progress["message"] == f"requeued: worker {worker} lost the database (OperationalError)"
    assert OrmQ.objects.count() == 1


def test_a_job_that_lost_the_database_on_its_last_attempt_fails_with_the_reason(settings):
    settings.MODELYARD_JOB_MAX_ATTEMPTS = 1
    job = enqueue("lose_database_in_own_code")
    worker = jobs.worker_name()

    jobs.job_run(job_id=str(job.id))

    job.refresh_from_db()
    assert job.state == Job.State.FAILURE
    assert job.error == (
        f"worker {worker} lost the database (OperationalError) while running this job; gave up after 1 attempt(s) of 1"
    )


def test_orphans_on_another_host_are_left_to_the_heartbeat_check():
    job = enqueue("count_steps", steps=1, pause_s=0)
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.STARTED, attempts=1, worker="not-" + socket.gethostname() + ":1"
    )

    assert jobs.jobs_recover_orphans() == []


def test_a_connection_the_server_dropped_is_replaced_at_the_next_query_not_reused_for_ever():
    from django.db import OperationalError

    connection_drop(connection)
    with pytest.raises(OperationalError):
        Job.objects.count()  # the query that finds out

    assert Job.objects.count() == 0  # no "the connection is closed" from here on
