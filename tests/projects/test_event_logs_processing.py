"""`rag_processing` events: a dataset run (its jobs run synchronously as a worker runs them, with the
fake embedder of tests/rag) records its queueing, each file's outcome and the counts at the end."""

import pytest

from tests.fakes.vision_documents import blank_scan_pdf
from tests.projects.runs import run_task
from tests.projects.test_tasks_api import process, project, upload  # noqa: F401 (project: a fixture)
from tests.rag.conftest import fake_embedder  # noqa: F401 (a fixture)

# `project`: the `rag` template's project with a dataset `papers` embedding through the fake server.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("project")]


def processing_event(client) -> dict:
    listed = client.get("/v1/projects/my-org/chatbot/event_logs", {"type": "rag_processing"}).json()
    return client.get(f"/v1/projects/my-org/chatbot/event_logs/{listed['events'][0]['event_id']}").json()


def test_a_dataset_run_records_each_files_outcome_and_ends_with_the_counts(client, tmp_path):
    setup = upload(client, "setup.txt", b"Paragraph one of the setup guide.\n\nParagraph two explains more.")
    task_id = process(client)
    run_task(task_id)

    event = processing_event(client)
    names = [sub["event_name"] for sub in event["sub_events"]]
    assert names == ["task_queued", "task_started", "file_processed", "processing_complete"]
    assert event["status"] == "completed" and event["type"] == "rag_processing"
    assert event["sub_events"][0]["data"] == {"task_id": task_id, "files": 1}
    processed = event["sub_events"][2]["data"]
    assert (processed["hash"], processed["filename"], processed["parser"]) == (setup, "setup.txt", "TextParser_Python")
    assert processed["chunks"] > 0
    counts = {"processed": 1, "skipped": 0, "failed": 0, "cancelled": 0}
    assert event["sub_events"][3]["data"] == counts
    assert event["summary"] == {"dataset": "papers", "files": 1, **counts, "duration_ms": event["duration_ms"]}
    assert event["data"]["dataset"] == "papers" and event["data"]["database"] == "main_database"

    run_task(process(client))  # again: the file is a duplicate now
    again = processing_event(client)
    assert [sub["event_name"] for sub in again["sub_events"]][2:] == ["file_skipped", "processing_complete"]
    assert again["sub_events"][2]["data"]["reason"] and again["summary"]["skipped"] == 1


def test_a_run_with_a_file_that_fails_ends_its_event_failed_with_the_reason(client, tmp_path):
    upload(client, "setup.txt", b"Paragraph one of the setup guide.\n\nParagraph two explains more.")
    upload(client, "scan.pdf", blank_scan_pdf(tmp_path / "scan.pdf").read_bytes())  # nothing for OCR to read
    run_task(process(client))

    event = processing_event(client)
    by_name = {sub["event_name"]: sub["data"] for sub in event["sub_events"]}
    assert event["status"] == "failed" and event["summary"]["error"] == "1 of 2 file(s) failed"
    assert "no text layer" in by_name["file_failed"]["reason"] and by_name["file_failed"]["filename"] == "scan.pdf"
    assert by_name["failed"]["processed"] == 1 and by_name["failed"]["failed"] == 1
