"""Dataset actions and the tasks API over HTTP, with the dataset's jobs run synchronously as a worker
runs them and a fake OpenAI-compatible embedder on 127.0.0.1 (the MiniLM run is test_processing.py)."""

import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from apps.core import events, jobs
from apps.core.locks import advisory_lock
from apps.core.models import Job
from apps.projects.models import Dataset, Project
from apps.projects.processing import ingest_lock_name
from apps.rag.models import Chunk, Document
from tests.fakes.vision_documents import blank_scan_pdf
from tests.projects.runs import run_parent, run_task
from tests.rag.conftest import fake_embedder, openai_database  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

NS, NAME = "my-org", "chatbot"
BASE = f"/v1/projects/{NS}/{NAME}"


def paragraphs(topic: str, count: int = 3) -> bytes:
    return "\n\n".join(
        f"Paragraph {n} of the {topic} guide explains step {n} in detail." for n in range(count)
    ).encode()


@pytest.fixture
def project(client, make_project, fake_embedder):  # noqa: F811 (the imported fixture)
    """The `rag` template's project, its database embedding with the fake server, and a dataset `papers`."""
    make_project(NAME, namespace=NS)
    database = openai_database(fake_embedder, name="main_database")
    response = client.patch(
        f"{BASE}/rag/databases/main_database",
        {"embedding_strategies": database["embedding_strategies"], "default_embedding_strategy": "default"},
        "application/json",
    )
    assert response.status_code == 200, response.content
    body = {"name": "papers", "data_processing_strategy": "universal_processor", "database": "main_database"}
    assert client.post(f"{BASE}/datasets", body, "application/json").status_code == 200
    return NAME


def upload(client, filename: str, content: bytes, dataset: str = "papers") -> str:
    response = client.post(f"{BASE}/datasets/{dataset}/data", {"file": SimpleUploadedFile(filename, content)})
    assert response.status_code == 200, response.content
    return response.json()["hash"]


def process(client, dataset: str = "papers", **extra) -> str:
    response = client.post(
        f"{BASE}/datasets/{dataset}/actions", {"action_type": "process"}, "application/json", **extra
    )
    assert response.status_code == 200, response.content
    return response.json()["task_id"]


def task(client, task_id: str) -> dict:
    response = client.get(f"{BASE}/tasks/{task_id}")
    assert response.status_code == 200, response.content
    return response.json()


def test_an_action_answers_accepted_with_the_task_uri_on_the_requests_own_host(client, project):
    upload(client, "guide.txt", paragraphs("setup"))

    response = client.post(
        f"{BASE}/datasets/papers/actions", {"action_type": "ingest"}, "application/json", HTTP_HOST="rag.example:8123"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Accepted"
    assert body["task_uri"] == f"http://rag.example:8123{BASE}/tasks/{body['task_id']}"
    job = Job.objects.get(pk=body["task_id"])
    assert (job.kind, job.owner_ref, job.state) == ("projects.dataset_process", f"project:{NS}/{NAME}", "PENDING")
    assert task(client, body["task_id"])["state"] == "PENDING"


def test_an_unknown_action_type_is_422_naming_the_valid_ones(client, project):
    response = client.post(f"{BASE}/datasets/papers/actions", {"action_type": "index"}, "application/json")

    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "action_type"]
    assert "process" in error["msg"] and "ingest" in error["msg"]


def test_a_run_ends_success_with_each_files_details_and_chunks_stored(client, project, fake_embedder):  # noqa: F811
    setup = upload(client, "setup.txt", paragraphs("setup"))
    billing = upload(
        client, "billing.md", b"# Billing\n\nInvoices are sent monthly.\n\n## Refunds\n\nWithin 30 days.\n"
    )
    task_id = process(client)

    run_task(task_id)

    body = task(client, task_id)
    assert (body["task_id"], body["state"], body["error"], body["traceback"]) == (task_id, "SUCCESS", None, None)
    assert (body["meta"]["current"], body["meta"]["total"], body["meta"]["progress"]) == (2, 2, 100)
    assert [(f["file_hash"], f["state"]) for f in body["meta"]["files"]] == [(setup, "success"), (billing, "success")]
    result = body["result"]
    assert (result["processed_files"], result["skipped_files"], result["failed_files"]) == (2, 0, 0)
    assert (result["database"], result["strategy"]) == ("main_database", "universal_processor")
    details = {detail["hash"]: detail for detail in result["details"]}
    assert details[setup]["filename"] == "setup.txt" and details[setup]["status"] == "processed"
    assert details[setup]["parser"] == "TextParser_Python"
    assert details[billing]["parser"] == "MarkdownParser_Python"
    for file_hash, detail in details.items():
        assert detail["chunks"] == Document.objects.get(file_hash=file_hash).chunk_count > 0


def test_the_runs_progress_total_is_its_number_of_files_from_its_first_event(
    client, project, monkeypatch, django_capture_on_commit_callbacks
):
    for topic in ("setup", "billing", "support"):
        upload(client, f"{topic}.txt", paragraphs(topic))
    with django_capture_on_commit_callbacks(execute=True):
        task_id = process(client)
    # From here on a client knows the task id: its stream starts with the row, then the events.
    first = client.get(f"/api/v1/jobs/{task_id}").json()["progress"]
    published: list[tuple[str, dict]] = []
    monkeypatch.setattr(events, "publish", lambda group, event, payload: published.append((event, payload)))

    with django_capture_on_commit_callbacks(execute=True):
        run_task(task_id)

    assert (first["current"], first["total"]) == (0, 3)
    run_events = [(event, payload["progress"]) for event, payload in published if payload["id"] == task_id]
    assert run_events and [p for _, p in run_events if p["total"] != 3] == []
    assert [p["current"] for _, p in run_events] == sorted(p["current"] for _, p in run_events)  # never goes back
    assert run_events[-1][0] == "complete" and run_events[-1][1]["current"] == 3


def test_processing_again_skips_every_file_as_a_duplicate(client, project):
    upload(client, "setup.txt", paragraphs("setup"))
    run_task(process(client))
    chunks = Chunk.objects.count()

    again = process(client)
    run_task(again)

    result = task(client, again)["result"]
    assert (result["processed_files"], result["skipped_files"]) == (0, 1)
    assert (result["details"][0]["status"], result["details"][0]["reason"]) == ("skipped", "duplicate")
    assert Chunk.objects.count() == chunks


def test_a_pdf_without_a_text_layer_fails_its_file_and_the_task_says_1_of_2_files_failed(client, project, tmp_path):
    good = upload(client, "setup.txt", paragraphs("setup"))
    scan = upload(client, "scan.pdf", blank_scan_pdf(tmp_path / "scan.pdf").read_bytes())  # nothing for OCR to read
    task_id = process(client)

    run_task(task_id)

    body = task(client, task_id)
    assert (body["state"], body["error"]) == ("FAILURE", "1 of 2 files failed")
    details = {detail["hash"]: detail for detail in body["result"]["details"]}
    assert details[good]["status"] == "processed"
    assert details[scan]["status"] == "failed" and "no text layer" in details[scan]["reason"]
    assert (body["result"]["processed_files"], body["result"]["failed_files"]) == (1, 1)
    child = Job.objects.get(parent_id=task_id, params__file_hash=scan)
    assert child.state == Job.State.FAILURE and "no text layer" in child.error and not child.traceback
    assert not Document.objects.filter(file_hash=scan).exists()


def test_a_second_action_while_the_run_is_queued_answers_the_same_task(client, project):
    upload(client, "setup.txt", paragraphs("setup"))

    first, second = process(client), process(client)

    assert first == second
    assert Job.objects.filter(kind="projects.dataset_process").count() == 1
    run_task(first)
    assert process(client) != first  # a finished run does not hold the dataset


def test_cancelling_mid_run_revokes_queued_files_and_reverts_the_processed_ones(client, project):
    done = upload(client, "setup.txt", paragraphs("setup"))
    upload(client, "billing.txt", paragraphs("billing"))
    task_id = process(client)
    first, second = run_parent(task_id)
    jobs.job_run(job_id=str(first.pk))
    assert Document.objects.filter(file_hash=done).exists()

    response = client.delete(f"{BASE}/tasks/{task_id}")

    assert response.status_code == 200
    assert response.json() == {
        "message": "Task cancelled and 1 file(s) reverted",
        "task_id": task_id,
        "cancelled": True,
        "pending_tasks_cancelled": 1,
        "running_tasks_at_cancel": 0,
        "files_reverted": 1,
        "files_failed_to_revert": 0,
        "errors": None,
        "already_completed": False,
        "already_cancelled": False,
    }
    assert not Document.objects.exists() and not Chunk.objects.exists()
    jobs.job_run(job_id=str(second.pk))  # delivered late: it never runs
    assert Job.objects.get(pk=second.pk).state == Job.State.CANCELLED and not Document.objects.exists()
    body = task(client, task_id)
    assert (body["state"], body["cancelled"]) == ("REVOKED", True)
    again = client.delete(f"{BASE}/tasks/{task_id}").json()
    assert (again["message"], again["cancelled"], again["already_cancelled"]) == ("Task already cancelled", True, True)
    assert again["files_reverted"] == 1


def test_a_cancelled_task_shows_its_processed_files_as_reverted_and_says_it_was_cancelled(client, project):
    done = upload(client, "setup.txt", paragraphs("setup"))
    queued = upload(client, "billing.txt", paragraphs("billing"))
    task_id = process(client)
    first, _ = run_parent(task_id)
    jobs.job_run(job_id=str(first.pk))

    assert client.delete(f"{BASE}/tasks/{task_id}").json()["files_reverted"] == 1
    body = task(client, task_id)

    states = {item["file_hash"]: item["state"] for item in body["meta"]["files"]}
    assert states == {done: "reverted", queued: "cancelled"}
    details = {detail["hash"]: detail for detail in body["result"]["details"]}
    assert details[done]["status"] == "reverted" and details[done]["chunks"] > 0  # what was removed
    assert details[queued]["status"] == "cancelled"
    assert body["result"]["message"] == (
        "Task cancelled: 1 processed file(s) reverted; 1 not processed, skipped 0, failed 0 of 2 file(s)"
    )
    assert body["result"]["processed_files"] == 0


def test_cancelling_a_finished_task_answers_already_completed_and_keeps_its_files(client, project):
    upload(client, "setup.txt", paragraphs("setup"))
    task_id = process(client)
    run_task(task_id)

    body = client.delete(f"{BASE}/tasks/{task_id}").json()

    assert (body["message"], body["cancelled"], body["already_completed"]) == ("Task already success", False, True)
    assert body["files_reverted"] == 0 and Document.objects.count() == 1
    assert task(client, task_id)["state"] == "SUCCESS"


def test_an_unknown_malformed_or_other_projects_task_is_404_never_pending(client, project, make_project):
    upload(client, "setup.txt", paragraphs("setup"))
    task_id = process(client)
    make_project("other", namespace=NS)

    for path in (
        f"{BASE}/tasks/00000000-0000-0000-0000-000000000000",
        f"{BASE}/tasks/not-a-task",
        f"/v1/projects/{NS}/other/tasks/{task_id}",
    ):
        for method in (client.get, client.delete):
            response = method(path)
            assert response.status_code == 404, path
            assert set(response.json()) == {"detail"}
    core_job = jobs.job_enqueue(
        kind="test.other", func="tests.fakes.jobs.count_steps", params={"steps": 1, "pause_s": 0}
    )
    assert client.get(f"{BASE}/tasks/{core_job.pk}").status_code == 404  # not a dataset run


def test_manual_cleanup_removes_one_files_chunks_from_the_datasets_database(client, project):
    kept = upload(client, "setup.txt", paragraphs("setup"))
    removed = upload(client, "billing.txt", paragraphs("billing"))
    run_task(process(client))
    chunks = Document.objects.get(file_hash=removed).chunk_count

    response = client.post(f"{BASE}/datasets/papers/cleanup/{removed}")

    assert response.status_code == 200
    assert response.json() == {
        "message": f"Deleted {chunks} chunk(s) for file {removed[:12]}",
        "deleted_count": chunks,
        "file_hash": removed,
        "errors": None,
    }
    assert list(Document.objects.values_list("file_hash", flat=True)) == [kept]
    assert client.post(f"{BASE}/datasets/nope/cleanup/{removed}").status_code == 404


def test_the_admins_process_action_starts_a_run_and_shows_its_live_progress(admin_client, client, project):
    upload(client, "setup.txt", paragraphs("setup"))
    dataset = Dataset.objects.get(name="papers")

    response = admin_client.post(
        "/admin/projects/dataset/", {"action": "process_datasets", "_selected_action": [dataset.pk]}
    )

    run = Job.objects.get(kind="projects.dataset_process")
    assert response.status_code == 302 and response["Location"] == f"/admin/projects/dataset/progress/{run.pk}/"
    run_task(str(run.pk))
    page = admin_client.get(response["Location"]).content.decode()
    assert "SUCCESS" in page and "setup.txt" in page
    assert f"/api/v1/jobs/{run.pk}/events" in page and f"{BASE}/tasks/{run.pk}" in page
    rag_page = admin_client.get(f"/admin/projects/project/{Project.objects.get(name=NAME).pk}/rag/").content.decode()
    assert "main_database" in rag_page and "healthy" in rag_page and "vector_store" in rag_page


def test_a_file_waits_while_another_job_ingests_it_into_the_same_database(client, project):
    file_hash = upload(client, "setup.txt", paragraphs("setup"))
    (child,) = run_parent(process(client))
    holding, release = threading.Event(), threading.Event()

    def another_job() -> None:  # its own database session, as another worker's
        with advisory_lock(ingest_lock_name(f"{NS}/{NAME}", "main_database", file_hash)):
            holding.set()
            release.wait(10)
        connection.close()

    other = threading.Thread(target=another_job)
    other.start()
    assert holding.wait(10)
    threading.Timer(1.0, release.set).start()
    started = time.monotonic()

    jobs.job_run(job_id=str(child.pk))

    assert time.monotonic() - started >= 1.0
    other.join(10)
    assert Job.objects.get(pk=child.pk).state == Job.State.SUCCESS
