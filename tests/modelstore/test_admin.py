"""The admin: local models with size, source and last use; delete with files; download with live progress."""

from pathlib import Path

import pytest

from apps.core.models import Job
from apps.modelstore.models import DOWNLOAD_JOB_KIND, LocalModel
from tests.fakes.modelstore_hub import GGUF

pytestmark = pytest.mark.django_db


def test_the_model_list_shows_size_source_and_last_use_with_a_download_link(admin_client, stored):
    stored("org/big", source="huggingface", files={"w.bin": b"1" * 2048})

    page = admin_client.get("/admin/modelstore/localmodel/")

    assert page.status_code == 200
    content = page.content.decode()
    assert "org/big" in content and "2.0 KB" in content and "huggingface" in content
    assert "/admin/modelstore/localmodel/download/" in content
    assert admin_client.get("/admin/modelstore/localmodel/", {"source": "local"}).context["cl"].result_count == 0


def test_deleting_models_in_the_admin_deletes_their_files(admin_client, stored):
    first, second = stored("a/one"), stored("a/two")

    response = admin_client.post(
        "/admin/modelstore/localmodel/",
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
        follow=True,
    )

    assert response.status_code == 200
    assert not LocalModel.objects.exists()
    assert not Path(first.path).exists() and not Path(second.path).exists()


def test_the_download_form_starts_a_job_and_shows_its_live_progress(admin_client, hub_store):
    form = admin_client.get("/admin/modelstore/localmodel/download/")
    response = admin_client.post(
        "/admin/modelstore/localmodel/download/",
        {"model_id": GGUF, "source": "huggingface", "include_patterns": "*Q8_0*, README.md"},
    )

    assert form.status_code == 200
    job = Job.objects.get(kind=DOWNLOAD_JOB_KIND)
    assert job.params["include_patterns"] == ["*Q8_0*", "README.md"]
    assert response.status_code == 302
    assert response["Location"] == f"/admin/modelstore/localmodel/download/{job.id}/"
    page = admin_client.get(response["Location"])
    assert page.status_code == 200
    assert f'data-events-url="/api/v1/jobs/{job.id}/events"'.encode() in page.content
    assert b'<progress id="download-bar"' in page.content


def test_the_download_form_shows_why_a_download_is_refused(admin_client, hub_store):
    response = admin_client.post(
        "/admin/modelstore/localmodel/download/", {"model_id": "acme/nothing", "source": "huggingface"}
    )

    assert response.status_code == 200
    assert b"not found on" in response.content
    assert not Job.objects.exists()


def test_updating_a_model_from_its_source_starts_a_download_job(admin_client, hub_store, stored):
    model = stored(GGUF, source="huggingface", files={"README.md": b"old"})

    response = admin_client.post(
        "/admin/modelstore/localmodel/", {"action": "update_from_source", "_selected_action": [model.pk]}
    )

    job = Job.objects.get(kind=DOWNLOAD_JOB_KIND)
    assert response["Location"] == f"/admin/modelstore/localmodel/download/{job.id}/"
    assert job.params["model_id"] == GGUF


def test_download_jobs_are_listed_with_bytes_and_progress(admin_client):
    Job.objects.create(
        kind=DOWNLOAD_JOB_KIND,
        func="apps.modelstore.tasks.download_model",
        owner_ref="huggingface/org/model",
        state=Job.State.STARTED,
        progress_current=512 * 1024,
        progress_total=2 * 1024 * 1024,
        progress={"speed_bps": 1024 * 1024, "eta_s": 1.5},
    )
    Job.objects.create(kind="rag.ingest", func="x.y")

    page = admin_client.get("/admin/modelstore/downloadjob/")

    assert page.status_code == 200
    assert page.context["cl"].result_count == 1
    content = page.content.decode()
    assert '<progress value="25.0" max="100"' in content
    assert "512.0 KB / 2.0 MB" in content and "1.0 MB/s" in content


def test_cancelling_download_jobs_stops_the_unfinished_ones_only(admin_client):
    running, finished = (
        Job.objects.create(kind=DOWNLOAD_JOB_KIND, func="apps.modelstore.tasks.download_model", state=state)
        for state in (Job.State.STARTED, Job.State.SUCCESS)
    )

    response = admin_client.post(
        "/admin/modelstore/downloadjob/",
        {"action": "cancel_downloads", "_selected_action": [running.pk, finished.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Asked 1 download(s) to stop" in response.content.decode()
    running.refresh_from_db()
    finished.refresh_from_db()
    assert running.cancel_requested and not finished.cancel_requested
