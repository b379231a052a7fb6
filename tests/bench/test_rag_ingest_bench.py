"""Ingestion throughput (issue 15): chunks per second through a dataset job against raw
sentence-transformers `encode()` of the same chunks, in one run (`make bench`).

One text document of about 3,000 paragraphs (sentences of the RAG test corpus recombined, as
tests/bench/test_rag_bench.py makes them), a strategy that makes each paragraph a chunk, and the
rag template's database (all-MiniLM-L6-v2 on the model runtime, batches of 32). The pipeline is
`manage.py serve` with its workers and the runtime: upload, `process` action, the task until it
ends; its rate is the file job's chunks over the job's own run time (and over the whole task,
queueing included). The raw rate is `SentenceTransformer.encode()` of the same chunk texts in this
process, with the same thread count and batch size. The aim is a ratio of at least 0.8.
"""

import statistics
import time

import httpx
import pytest

from apps.core.models import Job
from apps.rag.parsers import document_read
from tests.bench.test_rag_bench import bench_texts, corpus_sentences
from tests.fakes import inference_models
from tests.fakes.servers import free_port, start_live_server
from tests.inference.conftest import MINILM

pytestmark = [pytest.mark.bench, pytest.mark.ml, pytest.mark.django_db(transaction=True)]

PARAGRAPHS = 3000
THREADS = 1  # the runtime's default (MODELYARD_TORCH_THREADS); the raw encode uses the same
BATCH = 32
STRATEGY = {
    "name": "paragraphs",
    "parsers": [
        {
            "type": "TextParser_Python",
            "file_include_patterns": ["*.txt"],
            "config": {"chunk_size": 400, "chunk_overlap": 0, "chunk_strategy": "paragraphs"},
        }
    ],
}


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.timeout(1800)
def test_dataset_ingestion_chunks_per_second_against_raw_encode(tmp_path):
    import torch
    from sentence_transformers import SentenceTransformer

    path = tmp_path / "notes.txt"
    path.write_text("\n\n".join(bench_texts(corpus_sentences(tmp_path / "corpus"), PARAGRAPHS)) + "\n")
    chunk_texts = [
        chunk.text for chunk in document_read(path=path, filename=path.name, parsers=STRATEGY["parsers"]).chunks
    ]

    server = start_live_server(
        tmp_path / "serve.log",
        MODELYARD_RUNTIME_PORT=str(free_port()),
        MODELYARD_RUNTIME_REGISTER="true",
        MODELYARD_TORCH_THREADS=str(THREADS),
    )
    try:
        http = httpx.Client(base_url=server.url, timeout=60)
        wait_for(
            lambda: any(MINILM in backend["models"] for backend in http.get("/backends").json()),
            120,
            "the local runtime to be registered with MiniLM",
        )
        base = "/v1/projects/bench/ingest"
        assert http.post("/v1/projects/bench", json={"name": "ingest", "config_template": "rag"}).status_code == 200
        config = http.get(base).json()["project"]["config"]
        config["rag"]["data_processing_strategies"].append(STRATEGY)
        config["rag"]["databases"][0]["embedding_strategies"][0]["config"]["batch_size"] = BATCH
        assert http.put(base, json={"config": config}).status_code == 200
        dataset = {"name": "notes", "data_processing_strategy": "paragraphs", "database": "main_database"}
        assert http.post(f"{base}/datasets", json=dataset).status_code == 200
        # Warm the runtime's MiniLM first, so that neither side pays for loading it.
        http.post(f"{base}/rag/query", json={"query": "warm-up"}).raise_for_status()
        with path.open("rb") as handle:
            assert http.post(f"{base}/datasets/notes/data", files={"file": (path.name, handle)}).status_code == 200

        started = time.perf_counter()
        task_id = http.post(f"{base}/datasets/notes/actions", json={"action_type": "process"}).json()["task_id"]
        body = wait_for(
            lambda: (
                (answer := http.get(f"{base}/tasks/{task_id}").json())["state"] in {"SUCCESS", "FAILURE"} and answer
            ),
            1200,
            "the dataset run",
        )
        task_s = time.perf_counter() - started
    finally:
        server.stop()

    assert body["state"] == "SUCCESS", body
    (detail,) = body["result"]["details"]
    assert detail["chunks"] == len(chunk_texts)
    (child,) = Job.objects.filter(parent_id=task_id)
    job_s = (child.finished_at - child.started_at).total_seconds()

    torch.set_num_threads(THREADS)
    model = SentenceTransformer(str(inference_models.minilm_path()), device="cpu")
    model.encode(chunk_texts[:64], batch_size=BATCH)  # warm-up
    raw_runs = []
    for _ in range(2):
        started = time.perf_counter()
        model.encode(chunk_texts, batch_size=BATCH, normalize_embeddings=True, show_progress_bar=False)
        raw_runs.append(time.perf_counter() - started)
    raw_s = statistics.median(raw_runs)

    chunks = len(chunk_texts)
    print(
        f"\n{chunks} chunks of all-MiniLM-L6-v2, {THREADS} thread(s), batches of {BATCH}:"
        f"\n  raw encode()        {chunks / raw_s:7.1f} chunks/s"
        f"\n  dataset file job    {chunks / job_s:7.1f} chunks/s  (ratio {raw_s / job_s:.2f})"
        f"\n  whole task          {chunks / task_s:7.1f} chunks/s  (ratio {raw_s / task_s:.2f}, queueing included)"
    )
