"""core.jobs: enqueue, run, progress, cancel reports, failure, and recovery of jobs whose worker died."""

import socket
import subprocess
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_q.models import OrmQ

from apps.core import jobs
from apps.core.errors import NotFound
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


def test_a_job_and_its_queued_task_are_written_in_one_transaction():
    # A process killed between two commits would leave a PENDING job with nothing queued for it.
    with transaction.atomic():
        job = enqueue("count_steps", steps=1, pause_s=0)
        assert OrmQ.objects.count() == 1  # already queued, before the job's row commits
        OrmQ.objects.all().delete()
        Job.objects.filter(pk=job.pk).update(
            state=Job.State.STARTED, attempts=1, worker=f"{socket.gethostname()}:{dead_pid()}"
        )
        jobs.jobs_recover_orphans()
        assert OrmQ.objects.count() == 1  # requeued the same way
        transaction.set_rollback(True)

    assert (Job.objects.count(), OrmQ.objects.count()) == (0, 0)  # nothing queued for a job that never was


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


def test_cancelling_a_finished_job_reports_already_completed_and_changes_nothing():
    job = enqueue("count_steps", steps=1, pause_s=0)
    jobs.job_run(job_id=str(job.id))

    report = jobs.job_cancel(job_id=str(job.id))

    assert (report.outcome, report.cancelled, report.already_completed) == ("already_completed", False, True)
    job.refresh_from_db()
    assert (job.state, job.cancel_requested) == (Job.State.SUCCESS, False)


def test_cancelling_a_cancelled_job_again_reports_already_cancelled():
    job = enqueue("count_steps", steps=1, pause_s=0)
    first = jobs.job_cancel(job_id=str(job.id))

    again = jobs.job_cancel(job_id=str(job.id))

    assert (first.outcome, first.cancelled) == ("cancelled", True)
    assert (again.outcome, again.cancelled, again.already_cancelled) == ("already_cancelled", True, True)


def test_cancelling_a_running_job_reports_cancelled_and_asks_it_to_stop():
    job = enqueue("count_steps", steps=1, pause_s=0)
    Job.objects.filter(pk=job.pk).update(state=Job.State.STARTED, worker=jobs.worker_name(), attempts=1)

    report = jobs.job_cancel(job_id=str(job.id))

    assert report.outcome == "cancelled"
    assert (report.job.state, report.job.cancel_requested) == (Job.State.STARTED, True)


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


def taken_by_a_cluster(seconds_ago: float, settings) -> None:
    """Lock every queued task as the ORM broker does when a cluster takes it, `seconds_ago`."""
    retry = timedelta(seconds=settings.Q_CLUSTER["retry"])
    OrmQ.objects.update(lock=timezone.now() - timedelta(seconds=seconds_ago) + retry)


def test_a_pending_job_whose_task_a_killed_cluster_took_is_delivered_again(settings):
    # The cluster took the task ahead of a free worker and was killed before it started the job:
    # django-q2 would keep the task locked for `retry` (a day).
    job = enqueue("count_steps", steps=1, pause_s=0)
    taken_by_a_cluster(settings.MODELYARD_JOB_STALE_S + 5, settings)

    assert jobs.jobs_recover_undelivered() == 1

    task = OrmQ.objects.get()
    assert task.lock <= timezone.now()  # deliverable again
    jobs.job_run(job_id=str(job.pk))  # and, delivered twice, the job still runs once
    jobs.job_run(job_id=str(job.pk))
    job.refresh_from_db()
    assert (job.state, job.attempts) == (Job.State.SUCCESS, 1)


def test_a_task_taken_recently_or_of_a_started_job_stays_with_its_cluster(settings):
    recent = enqueue("count_steps", steps=1, pause_s=0)
    taken_by_a_cluster(settings.MODELYARD_JOB_STALE_S - 5, settings)
    started = enqueue("count_steps", steps=1, pause_s=0)
    OrmQ.objects.filter(lock__lte=timezone.now()).update(
        lock=timezone.now()
        - timedelta(seconds=settings.MODELYARD_JOB_STALE_S + 5)
        + timedelta(seconds=settings.Q_CLUSTER["retry"])
    )
    Job.objects.filter(pk=started.pk).update(state=Job.State.STARTED, attempts=1, worker=jobs.worker_name())

    assert jobs.jobs_recover_undelivered() == 0
    assert not OrmQ.objects.filter(lock__lte=timezone.now()).exists()
    assert Job.objects.get(pk=recent.pk).state == Job.State.PENDING


def test_a_job_of_a_live_worker_is_left_alone():
    job = enqueue("count_steps", steps=1, pause_s=0)
    Job.objects.filter(pk=job.pk).update(state=Job.State.STARTED, attempts=1, worker=jobs.worker_name())

    assert jobs.jobs_recover_orphans() == []
    job.refresh_from_db()
    assert job.state == Job.State.STARTED


def test_a_job_log_keeps_its_last_200_lines_in_order_and_the_api_shows_them(client):
    job = enqueue("log_lines", count=205)

    jobs.job_run(job_id=str(job.id))

    job.refresh_from_db()
    assert [entry["line"] for entry in job.log] == [f"line {number}" for number in range(6, 206)]
    body = client.get(f"/api/v1/jobs/{job.id}").json()
    assert body["log"][0]["line"] == "line 6" and body["log"][-1]["line"] == "line 205"
    assert set(body["log"][0]) == {"at", "line"}


def test_a_log_line_outside_a_job_is_not_an_error():
    jobs.log("nobody to log to")


def run_group(children: list[str]) -> tuple[Job, list[Job]]:
    parent = enqueue("fan_out", children=children)
    jobs.job_run(job_id=str(parent.id))
    parent.refresh_from_db()
    return parent, list(Job.objects.filter(parent=parent).order_by("owner_ref"))


def test_a_parent_waits_for_its_children_and_counts_them_as_its_progress():
    parent, children = run_group(["a", "b"])

    assert (parent.state, parent.worker, parent.result) == (Job.State.STARTED, "", {"children": 2})
    assert (parent.progress_current, parent.progress_total) == (0, 2)
    assert parent.progress["message"] == "waiting for 2 child job(s)"

    jobs.job_run(job_id=str(children[0].id))
    parent.refresh_from_db()
    assert (parent.state, parent.progress_current, parent.progress_total) == (Job.State.STARTED, 1, 2)

    jobs.job_run(job_id=str(children[1].id))
    parent.refresh_from_db()
    assert (parent.state, parent.progress_current, parent.percent) == (Job.State.SUCCESS, 2, 100.0)
    assert jobs.job_payload(children[0])["parent_id"] == str(parent.id)


def test_a_parent_fails_when_a_child_failed_naming_how_many():
    parent, children = run_group(["a", "bad-b"])
    for child in children:
        jobs.job_run(job_id=str(child.id))

    parent.refresh_from_db()
    assert (parent.state, parent.error) == (Job.State.FAILURE, "1 of 2 child job(s) failed")


def test_cancelling_a_parent_cancels_its_pending_children_and_asks_running_ones_to_stop():
    parent, (first, second) = run_group(["a", "b"])
    Job.objects.filter(pk=first.pk).update(state=Job.State.STARTED, worker="elsewhere:1", attempts=1)

    report = jobs.job_cancel(job_id=str(parent.id))

    first.refresh_from_db()
    second.refresh_from_db()
    assert (report.outcome, report.pending_children_cancelled, report.running_children_at_cancel) == (
        "cancelled",
        1,
        1,
    )
    assert report.job.state == Job.State.CANCELLED
    assert (first.state, first.cancel_requested) == (Job.State.STARTED, True)
    assert (second.state, second.error) == (Job.State.CANCELLED, "cancelled with its parent")


def test_a_child_of_a_cancelled_parent_never_runs():
    parent, (child,) = run_group(["a"])
    Job.objects.filter(pk=parent.pk).update(cancel_requested=True)

    jobs.job_run(job_id=str(child.id))

    child.refresh_from_db()
    assert (child.state, child.attempts) == (Job.State.CANCELLED, 0)


def test_delete_of_a_finished_job_over_http_is_still_409_with_its_state(client):
    job = enqueue("count_steps", steps=1, pause_s=0)
    jobs.job_run(job_id=str(job.id))

    response = client.delete(f"/api/v1/jobs/{job.id}")

    assert response.status_code == 409
    assert response.json() == {"detail": f"job {job.id} already finished (SUCCESS)", "state": "SUCCESS"}


def test_delete_of_a_pending_job_over_http_is_200_with_the_cancelled_job(client):
    job = enqueue("count_steps", steps=1, pause_s=0)

    response = client.delete(f"/api/v1/jobs/{job.id}")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["state"]) == (str(job.id), "CANCELLED")


def test_delete_of_a_running_job_over_http_is_200_with_the_job_and_the_cancel_report(client):
    parent, (first, second) = run_group(["a", "b"])
    Job.objects.filter(pk=first.pk).update(state=Job.State.STARTED, worker="elsewhere:1", attempts=1)
    Job.objects.filter(pk=parent.pk).update(state=Job.State.STARTED, worker="elsewhere:2", attempts=1)

    response = client.delete(f"/api/v1/jobs/{parent.id}")

    parent.refresh_from_db()
    assert response.status_code == 200
    assert response.json() == {
        **jobs.job_payload(parent),
        "outcome": "cancelled",
        "pending_children_cancelled": 1,
        "running_children_at_cancel": 1,
    }


@pytest.mark.parametrize("accept", [None, "text/event-stream", "application/json"])
def test_events_of_an_unknown_job_are_404_with_the_same_json_message_whatever_the_client_accepts(client, accept):
    unknown = "0b5a1c1e-0000-4000-8000-000000000000"
    headers = {"HTTP_ACCEPT": accept} if accept else {}

    response = client.get(f"/api/v1/jobs/{unknown}/events", **headers)

    assert (response.status_code, response["Content-Type"]) == (404, "application/json")
    assert response.json() == {"detail": f"job {unknown} not found"}


def test_the_jobs_list_filters_the_children_of_a_parent(client):
    parent, children = run_group(["a", "b"])
    enqueue("count_steps", steps=1, pause_s=0)  # not a child

    body = client.get("/api/v1/jobs/", {"parent_id": str(parent.id)}).json()

    assert sorted(item["id"] for item in body["results"]) == sorted(str(child.id) for child in children)


def test_job_wait_returns_a_finished_job_at_once():
    job = enqueue("count_steps", steps=1, pause_s=0)
    jobs.job_run(job_id=str(job.id))

    assert jobs.job_wait(job_id=str(job.id), timeout=5).state == Job.State.SUCCESS


def test_job_wait_requeues_a_job_whose_worker_went_silent_instead_of_waiting_on_it(settings):
    settings.MODELYARD_JOB_STALE_S = 60
    job = enqueue("count_steps", steps=1, pause_s=0)
    long_ago = timezone.now() - timedelta(minutes=10)
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.STARTED, attempts=1, worker="elsewhere:1", started_at=long_ago, heartbeat_at=long_ago
    )

    waited = jobs.job_wait(job_id=str(job.id), timeout=7)

    assert (waited.state, waited.worker) == (Job.State.PENDING, "")  # back in the queue for a live worker


def test_a_parent_whose_children_ended_before_its_function_returned_ends_with_them():
    parent = enqueue("fan_out_already_done", children=["a", "bad-b"])

    jobs.job_run(job_id=str(parent.id))

    parent.refresh_from_db()
    assert (parent.state, parent.error, parent.progress_current, parent.progress_total) == (
        Job.State.FAILURE,
        "1 of 2 child job(s) failed",
        2,
        2,
    )
