"""Project chat overhead and the retrieval share of a RAG chat, measured in one run (`make bench`).

On a real server (`manage.py serve`, daphne, its workers and the model runtime with
all-MiniLM-L6-v2), with a fast fake OpenAI-compatible backend in a process of its own as the
project's model:

1. **Overhead**: the same chat request sent directly to the backend and through
   `POST /v1/projects/{ns}/{p}/chat/completions` (no RAG), one at a time; p50 and p99 of both and
   the milliseconds the project chat adds — stateless (`X-No-Session`) and with a session. The
   issue's aim is ≤ 15 ms at p50.
2. **Retrieval share at 10,000 chunks**: 10,000 chunks of real MiniLM embeddings (sentences of the
   RAG test corpus recombined, encoded here and inserted in bulk, then indexed, as
   tests/bench/test_rag_bench.py does) in the project's database; RAG chats then embed the question
   on the runtime and search pgvector. The retrieval time of each is read from its event log
   (`retrieval_complete` − `rag_query_start`) and set against the request's total.
"""

import hashlib
import statistics
import time

import httpx
import pytest
from django.db import connection

from apps.rag import services as rag
from apps.rag.models import Chunk, Document
from apps.rag.storage import hnsw_index_ensure
from tests.bench.test_gateway_bench import start_fake_backend
from tests.bench.test_rag_bench import bench_texts, corpus_sentences
from tests.fakes import inference_models
from tests.fakes.servers import free_port, start_live_server
from tests.inference.conftest import MINILM

pytestmark = [pytest.mark.bench, pytest.mark.ml, pytest.mark.django_db(transaction=True)]

NS = "bench"
REQUESTS = 300
RAG_REQUESTS = 60
CHUNKS = 10_000
MESSAGES = [{"role": "user", "content": "ping"}]
QUESTIONS = [
    "How hot should the water be for green tea?",
    "What do bees do in winter?",
    "How does a railway signal protect a block?",
    "Why do volcanoes erupt?",
    "How long should an espresso roast rest?",
]


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def timed(send, count: int) -> list[float]:
    """`send()` `count` times after 20 warm-up calls; the latency of each, in ms."""
    for _ in range(20):
        send()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        send()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def project_make(http: httpx.Client, name: str, template: str, fake_url: str) -> str:
    """A project whose only model is the fake backend's gpt-4o-mini; its base path."""
    assert http.post(f"/v1/projects/{NS}", json={"name": name, "config_template": template}).status_code == 200
    base = f"/v1/projects/{NS}/{name}"
    config = http.get(base).json()["project"]["config"]
    config["runtime"] = {
        "default_model": "fast",
        "models": [{"name": "fast", "provider": "openai", "model": "gpt-4o-mini", "base_url": f"{fake_url}/v1"}],
    }
    assert http.put(base, json={"config": config}).status_code == 200
    return base


def chunks_load(scope: str, database: dict, texts: list[str], vectors) -> None:
    """Insert `texts` with their `vectors` into the project's database, in bulk, then index."""
    db = rag.database_ensure(scope=scope, config=database)
    per_document = 1000
    for first in range(0, len(texts), per_document):
        file_hash = hashlib.sha256(f"chat-bench-{first}".encode()).hexdigest()
        document = Document.objects.create(
            database=db,
            file_hash=file_hash,
            filename=f"part_{first // per_document:02d}.txt",
            dataset="bench",
            chunk_count=per_document,
            embedding_signature="bench",
        )
        Chunk.objects.bulk_create(
            Chunk(
                database=db,
                document=document,
                ordinal=index - first,
                text=texts[index],
                metadata={"filename": document.filename, "document_id": file_hash, "page": None, "heading": None},
                embedding=vectors[index],
                dimension=384,
            )
            for index in range(first, min(first + per_document, len(texts)))
        )
    db.dimension = 384
    db.save(update_fields=["dimension"])
    hnsw_index_ensure(384, "cosine")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE rag_chunk")


@pytest.mark.timeout(1800)
def test_project_chat_overhead_and_the_retrieval_share_of_a_rag_chat_at_10k_chunks(tmp_path):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(inference_models.minilm_path()), device="cpu")
    texts = bench_texts(corpus_sentences(tmp_path / "corpus"), CHUNKS)
    vectors = model.encode(texts, batch_size=128, normalize_embeddings=True, show_progress_bar=False)

    fake, fake_url = start_fake_backend()
    server = start_live_server(
        tmp_path / "serve.log", MODELYARD_RUNTIME_PORT=str(free_port()), MODELYARD_RUNTIME_REGISTER="true"
    )
    try:
        http = httpx.Client(base_url=server.url, timeout=60)
        direct_http = httpx.Client(base_url=fake_url, timeout=60)
        plain = project_make(http, "plain", "server", fake_url)
        body = {"model": "gpt-4o-mini", "messages": MESSAGES, "max_tokens": 8}
        project_body = {"model": "fast", "messages": MESSAGES, "max_tokens": 8}

        def direct() -> None:
            direct_http.post("/v1/chat/completions", json=body).raise_for_status()

        def stateless() -> None:
            answer = http.post(f"{plain}/chat/completions", json=project_body, headers={"X-No-Session": "1"})
            answer.raise_for_status()
            assert answer.json()["rag_sources"] == []

        turns = iter(range(10**6))

        def with_session() -> None:  # conversations of 10 turns: the history read and appended each time
            session = {"X-Session-ID": f"bench-{next(turns) // 10}"}
            http.post(f"{plain}/chat/completions", json=project_body, headers=session).raise_for_status()

        direct_ms = timed(direct, REQUESTS)
        stateless_ms = timed(stateless, REQUESTS)
        session_ms = timed(with_session, REQUESTS)
        added_stateless = statistics.median(stateless_ms) - statistics.median(direct_ms)
        added_session = statistics.median(session_ms) - statistics.median(direct_ms)
        print(
            f"\nproject chat, {REQUESTS} sequential requests to a fake backend:"
            f"\n  direct            p50 {p(direct_ms, 50):6.1f} ms  p99 {p(direct_ms, 99):6.1f} ms"
            f"\n  project stateless p50 {p(stateless_ms, 50):6.1f} ms  p99 {p(stateless_ms, 99):6.1f} ms"
            f"  (added p50 {added_stateless:+.1f} ms, p99 {p(stateless_ms, 99) - p(direct_ms, 99):+.1f} ms)"
            f"\n  project session   p50 {p(session_ms, 50):6.1f} ms  p99 {p(session_ms, 99):6.1f} ms"
            f"  (added p50 {added_session:+.1f} ms, p99 {p(session_ms, 99) - p(direct_ms, 99):+.1f} ms)"
        )

        # RAG: the rag template's database (MiniLM on the runtime), filled with 10,000 chunks.
        deadline = time.monotonic() + 120
        while not any(MINILM in backend["models"] for backend in http.get("/backends").json()):
            assert time.monotonic() < deadline, "the local runtime was not registered with MiniLM"
            time.sleep(0.5)
        grounded = project_make(http, "grounded", "rag", fake_url)
        config = http.get(grounded).json()["project"]["config"]
        chunks_load(f"{NS}/grounded", config["rag"]["databases"][0], texts, vectors)
        rag_ms: list[float] = []
        for index in range(RAG_REQUESTS + 5):
            question = [{"role": "user", "content": QUESTIONS[index % len(QUESTIONS)]}]
            started = time.perf_counter()
            answer = http.post(
                f"{grounded}/chat/completions",
                json={"model": "fast", "messages": question, "max_tokens": 8, "rag_top_k": 5},
                headers={"X-No-Session": "1"},
            )
            elapsed = (time.perf_counter() - started) * 1000
            answer.raise_for_status()
            assert len(answer.json()["rag_sources"]) == 5
            if index >= 5:  # warm-up: the runtime's first embeddings
                rag_ms.append(elapsed)
        events = http.get(f"{grounded}/event_logs", params={"type": "inference", "limit": RAG_REQUESTS}).json()
        retrieval_ms = []
        for event in events["events"]:
            detail = http.get(f"{grounded}/event_logs/{event['event_id']}").json()
            steps = {step["event_name"]: step["elapsed_ms"] for step in detail["sub_events"]}
            retrieval_ms.append(steps["retrieval_complete"] - steps["rag_query_start"])
    finally:
        server.stop()
        fake.terminate()
        fake.wait(10)

    share = statistics.median(retrieval_ms) / statistics.median(rag_ms)
    print(
        f"\nRAG chat at {CHUNKS} MiniLM chunks, {len(rag_ms)} requests: total p50 {p(rag_ms, 50):.1f} ms"
        f" p99 {p(rag_ms, 99):.1f} ms; retrieval (embed the question + pgvector) p50 "
        f"{statistics.median(retrieval_ms):.1f} ms p99 {p(retrieval_ms, 99):.1f} ms; share of the total {share:.0%}"
    )
    assert len(retrieval_ms) == RAG_REQUESTS
