"""The admin console: jobs with progress, filters and a cancel action; API keys shown once."""

import pytest

from apps.core import jobs
from apps.core.models import ApiKey, Job

pytestmark = pytest.mark.django_db


def make_job(**fields) -> Job:
    return Job.objects.create(
        kind=fields.pop("kind", "modelstore.download"), func="tests.fakes.jobs.count_steps", **fields
    )


def test_the_job_list_shows_progress_and_filters_by_state_and_kind(admin_client):
    make_job(state=Job.State.STARTED, progress_current=30, progress_total=120)
    make_job(kind="rag.ingest", state=Job.State.SUCCESS)

    page = admin_client.get("/admin/core/job/")
    filtered = admin_client.get("/admin/core/job/", {"state__exact": "STARTED", "kind": "modelstore.download"})
    searched = admin_client.get("/admin/core/job/", {"q": "rag.ingest"})

    assert page.status_code == 200
    assert b'<progress value="25.0" max="100"' in page.content
    assert filtered.context["cl"].result_count == 1
    assert [job.kind for job in searched.context["cl"].result_list] == ["rag.ingest"]


def test_the_cancel_action_cancels_pending_jobs_and_leaves_finished_ones(admin_client):
    pending = make_job()
    done = make_job(state=Job.State.SUCCESS)

    response = admin_client.post(
        "/admin/core/job/", {"action": "cancel_jobs", "_selected_action": [pending.pk, done.pk]}, follow=True
    )

    assert response.status_code == 200
    pending.refresh_from_db()
    done.refresh_from_db()
    assert (pending.state, done.state) == (Job.State.CANCELLED, Job.State.SUCCESS)


def test_a_job_page_shows_its_error_and_traceback(admin_client):
    job = make_job(state=Job.State.FAILURE, error="RuntimeError: boom", traceback="Traceback (most recent call last)")

    page = admin_client.get(f"/admin/core/job/{job.pk}/change/")

    assert page.status_code == 200
    assert b"RuntimeError: boom" in page.content and b"Traceback (most recent call last)" in page.content


def test_a_job_page_cuts_a_huge_payload_and_points_to_the_whole_one(admin_client):
    # A 300,000-point score kept its data in params and result: its page weighed 17 MB.
    points = [[float(i), float(i) / 2] for i in range(50_000)]
    job = make_job(state=Job.State.SUCCESS, params={"name": "detector", "data": points}, result={"scores": points})

    page = admin_client.get(f"/admin/core/job/{job.pk}/change/")

    assert page.status_code == 200
    assert len(page.content) < 200_000
    assert page.content.count(f"/api/v1/jobs/{job.pk}".encode()) >= 2  # both cut, both say where the rest is
    assert b"&quot;data&quot;: [" in page.content  # the start of it is shown


def test_trimming_a_finished_jobs_payload_keeps_short_values_and_the_sizes_of_long_lists():
    job = make_job(
        state=Job.State.SUCCESS,
        params={"name": "m", "data": list(range(500)), "schema": [["a", "numeric"]], "nested": {"rows": [[1]] * 30}},
        result={"labels": ["a", "b"], "scores": [0.5] * 30},
    )

    jobs.job_payload_trim(job=job, max_items=20)

    job.refresh_from_db()
    assert job.params == {
        "name": "m",
        "data": {"items": 500, "trimmed": True},
        "schema": [["a", "numeric"]],
        "nested": {"rows": {"items": 30, "trimmed": True}},
    }
    assert job.result == {"labels": ["a", "b"], "scores": {"items": 30, "trimmed": True}}


def test_adding_an_api_key_in_the_admin_shows_it_once_and_stores_its_hash(admin_client, client):
    response = admin_client.post("/admin/core/apikey/add/", {"name": "dashboard"}, follow=True)

    messages = [str(message) for message in response.context["messages"]]
    shown = next(message for message in messages if "copy it now" in message)
    raw_key = shown.split(": ", 1)[1].split(" ")[0]
    key = ApiKey.objects.get(name="dashboard")
    assert key.key_hash == ApiKey.hash_key(raw_key)
    assert client.get("/api/v1/jobs/", HTTP_X_API_KEY=raw_key).status_code == 200


def test_jobs_cannot_be_added_by_hand(admin_client):
    assert admin_client.get("/admin/core/job/add/").status_code == 403


def test_job_payload_is_what_the_api_returns(client):
    job = make_job(progress={"bytes": 10})
    assert client.get(f"/api/v1/jobs/{job.pk}").json() == jobs.job_payload(job)


def test_the_cancel_action_reports_how_many_jobs_and_child_jobs_it_stopped(admin_client):
    parent = make_job(state=Job.State.STARTED, worker="elsewhere:1")
    make_job(parent=parent)
    make_job(parent=parent)
    done = make_job(state=Job.State.SUCCESS)

    response = admin_client.post(
        "/admin/core/job/", {"action": "cancel_jobs", "_selected_action": [parent.pk, done.pk]}, follow=True
    )

    messages = [str(message) for message in response.context["messages"]]
    assert messages == ["Asked 1 job(s) and 2 child job(s) to stop; finished jobs were left alone."]


def test_a_job_page_shows_its_log_lines_and_its_parent(admin_client):
    parent = make_job(kind="projects.dataset_run")
    job = make_job(parent=parent, log=[{"at": "2026-01-01T00:00:00Z", "line": "parsed report.pdf: 12 pages"}])

    page = admin_client.get(f"/admin/core/job/{job.pk}/change/")

    assert page.status_code == 200
    assert b"parsed report.pdf: 12 pages" in page.content
    assert b"projects.dataset_run" in page.content
