"""RAG retrieval at size, measured in one run on this machine (`make bench`).

50,000+ chunks of real all-MiniLM-L6-v2 embeddings (texts made from the test corpus's sentences:
halves of three different sentences joined) in one pgvector database,
inserted first and indexed after (STACK-NOTES), then:

- recall@10 of the HNSW query (the partial index of dimension 384, `hnsw.ef_search` from
  MODELYARD_RAG_EF_SEARCH and at 100) against an exact scan of the same rows, over 100 queries
  (the question set and perturbed corpus texts) — the issue's aim is ≥ 0.98;
- `rag_query` p50/p95 (basic and hybrid), the query embedded on the real model runtime.

Embedding the texts takes a few minutes on 2 cores: it runs only here, never in `make test`.
"""

import hashlib
import random
import re
import statistics
import time

import pytest
from django.db import connection, transaction
from django.test import override_settings

from apps.backends import routing
from apps.backends.local_runtime import local_runtime_register
from apps.backends.tasks import sync_run
from apps.core.threads import apply_model_thread_policy
from apps.rag import retrieval, services
from apps.rag.models import Chunk, Database, Document
from apps.rag.parsers import document_read
from apps.rag.storage import hnsw_index_ensure
from tests.fakes import inference_models
from tests.fakes.servers import free_port, runtime_wait, start_runtime
from tests.inference.conftest import MINILM, put_in_store
from tests.rag.documents import QUESTIONS, corpus_build

pytestmark = [pytest.mark.bench, pytest.mark.ml, pytest.mark.django_db(transaction=True)]

SCOPE = "bench/rag"
CHUNKS = 50_000
DATABASE = {
    "name": "bench_db",
    "type": "ChromaStore",
    "config": {"distance_function": "cosine"},
    "embedding_strategies": [{"name": "minilm", "type": "UniversalEmbedder", "config": {"model": MINILM}}],
}


def corpus_sentences(folder) -> list[str]:
    """Every sentence of the test corpus's documents, as the parsers read them."""
    parsers = [{"type": "auto", "config": {"chunk_size": 400, "chunk_overlap": 0}}]
    sentences: list[str] = []
    for filename, path in corpus_build(folder).items():
        for chunk in document_read(path=path, filename=filename, parsers=parsers).chunks:
            sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", chunk.text) if len(s.split()) >= 4]
    return list(dict.fromkeys(sentences))


def bench_texts(sentences: list[str], count: int) -> list[str]:
    """`count` distinct short texts, each a different sentence's first half, another's second half
    and a third's first half (seeded: the same texts every run)."""
    halves = [sentence.split() for sentence in sentences]
    heads = [" ".join(words[: len(words) // 2]) for words in halves]
    tails = [" ".join(words[len(words) // 2 :]) for words in halves]
    rng = random.Random(7)
    texts: dict[str, None] = {}
    while len(texts) < count:
        first, second, third = rng.sample(range(len(sentences)), 3)
        texts[f"{heads[first]} {tails[second]} {heads[third]}."] = None
    return list(texts)


def perturbed(text: str, rng: random.Random) -> str:
    """`text` with a fifth of its words dropped: a query near, not at, a stored chunk."""
    words = text.split()
    return " ".join(word for word in words if rng.random() > 0.2) or text


def top10(db: Database, vector: list[float], *, exact: bool, ef_search: int) -> list[int]:
    """The ids of the 10 nearest chunks: by the HNSW index at `ef_search`, or by an exact scan."""
    sql, params = retrieval.select_sql(db=db, metric="cosine", vector=vector, limit=10)
    with transaction.atomic(), connection.cursor() as cursor:
        retrieval.search_settings(cursor, limit=10, filtered=False)
        cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(ef_search)])
        if exact:
            cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=20)
    return statistics.median(samples), cuts[18]


@pytest.mark.timeout(1800)
def test_hnsw_recall_at_10_and_rag_query_latency_on_50k_real_embeddings(tmp_path, settings):
    apply_model_thread_policy()  # 1 thread unless told otherwise: faster than 2 on a shared 2-core machine
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(inference_models.minilm_path()), device="cpu")
    texts = bench_texts(corpus_sentences(tmp_path / "corpus"), CHUNKS)
    started = time.perf_counter()
    vectors = model.encode(texts, batch_size=128, normalize_embeddings=True, show_progress_bar=False)  # numpy
    encode_s = time.perf_counter() - started

    db = services.database_ensure(scope=SCOPE, config=DATABASE)
    started = time.perf_counter()
    per_document = 1000
    for first in range(0, CHUNKS, per_document):
        file_hash = hashlib.sha256(str(first).encode()).hexdigest()
        document = Document.objects.create(
            database=db,
            file_hash=file_hash,
            filename=f"part_{first // per_document:03d}.txt",
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
            for index in range(first, min(first + per_document, CHUNKS))
        )
    insert_s = time.perf_counter() - started
    db.dimension = 384
    db.save(update_fields=["dimension"])
    started = time.perf_counter()
    hnsw_index_ensure(384, "cosine")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE rag_chunk")
    index_s = time.perf_counter() - started

    rng = random.Random(11)
    queries = [question for question, _ in QUESTIONS] + [perturbed(text, rng) for text in rng.sample(texts, 84)]
    query_vectors = model.encode(queries, normalize_embeddings=True, show_progress_bar=False).tolist()
    recalls: dict[int, list[float]] = {settings.MODELYARD_RAG_EF_SEARCH: [], 100: []}
    hnsw_ms: list[float] = []
    for vector in query_vectors:
        exact = set(top10(db, vector, exact=True, ef_search=40))
        for ef_search, found in recalls.items():
            started = time.perf_counter()
            approximate = top10(db, vector, exact=False, ef_search=ef_search)
            if ef_search == settings.MODELYARD_RAG_EF_SEARCH:
                hnsw_ms.append((time.perf_counter() - started) * 1000)
            found.append(len(exact & set(approximate)) / 10)

    # rag_query end to end, the query embedded by MiniLM on the real runtime (the `local` backend).
    port = free_port()
    runtime = start_runtime(port, tmp_path / "runtime.log", keep_loaded=(MINILM,), wait=False)
    put_in_store(MINILM, inference_models.minilm_path())
    try:
        runtime_wait(runtime, port, tmp_path / "runtime.log")
        with override_settings(MODELYARD_RUNTIME_PORT=port):
            local_runtime_register()
            sync_run()
            routing.routing_invalidate()
            services.rag_query(scope=SCOPE, database=DATABASE, query="warm-up")
            latencies: dict[str, list[float]] = {"basic": [], "hybrid": []}
            for strategy, samples in latencies.items():
                for question in queries[:50]:
                    started = time.perf_counter()
                    body = services.rag_query(
                        scope=SCOPE, database=DATABASE, query=question, retrieval_strategy=strategy
                    )
                    samples.append((time.perf_counter() - started) * 1000)
                    assert body["total_results"] == 5
    finally:
        runtime.kill()
        runtime.wait(timeout=30)

    recall = {ef: statistics.mean(found) for ef, found in recalls.items()}
    basic_p50, basic_p95 = percentiles(latencies["basic"])
    hybrid_p50, hybrid_p95 = percentiles(latencies["hybrid"])
    hnsw_p50, hnsw_p95 = percentiles(hnsw_ms)
    print(
        f"\n{CHUNKS} chunks of all-MiniLM-L6-v2 (384-d): encode {CHUNKS / encode_s:.0f} texts/s, "
        f"insert {CHUNKS / insert_s:.0f} rows/s, HNSW index build {index_s:.1f} s"
        f"\nrecall@10 HNSW vs exact over {len(queries)} queries: "
        + ", ".join(f"ef_search {ef} -> {value:.3f}" for ef, value in recall.items())
        + f"\nHNSW top-10 SQL: p50 {hnsw_p50:.1f} ms, p95 {hnsw_p95:.1f} ms"
        f"\nrag_query basic: p50 {basic_p50:.0f} ms, p95 {basic_p95:.0f} ms; "
        f"hybrid: p50 {hybrid_p50:.0f} ms, p95 {hybrid_p95:.0f} ms"
    )
    assert recall[100] >= 0.85  # the issue aims at 0.98; see the printed numbers
