"""Storage of configured databases in pgvector: rows, per-dimension HNSW indexes, stats, health."""

import hashlib
import shutil
from pathlib import Path

import pytest
from django.db import connection

from apps.backends import routing
from apps.backends.local_runtime import local_runtime_register
from apps.core.errors import Invalid
from apps.inference.defaults import DEFAULT_EMBED_MODEL, minilm_files
from apps.modelstore import layout
from apps.modelstore import services as store
from apps.rag import services
from apps.rag.models import Chunk, Database, Document
from apps.rag.storage import hnsw_index_ensure, hnsw_index_exists
from tests.rag.conftest import SCOPE, TEXT_STRATEGY, openai_database


def ingest(path: Path, database: dict, scope: str = SCOPE):
    return services.document_ingest(
        scope=scope,
        database=database,
        strategy=TEXT_STRATEGY,
        path=path,
        filename=path.name,
        file_hash=hashlib.sha256(path.read_bytes()).hexdigest(),
        dataset="policies",
    )


def explain(sql: str, params: list) -> str:
    """The plan of `sql` with sequential scans priced out, so a usable index is the plan's choice."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
def test_database_ensure_records_the_declared_type_and_maps_distance_synonyms():
    qdrant = services.database_ensure(
        scope=SCOPE, config={"name": "main_db", "type": "QdrantStore", "config": {"distance": "Euclid"}}
    )
    pinecone = services.database_ensure(
        scope=SCOPE, config={"name": "other_db", "type": "PineconeStore", "config": {"metric": "dotproduct"}}
    )
    again = services.database_ensure(
        scope=SCOPE, config={"name": "main_db", "type": "ChromaStore", "config": {"collection_name": "handbook"}}
    )

    assert (qdrant.store_type, qdrant.distance_function, qdrant.collection_name) == ("QdrantStore", "l2", "main_db")
    assert pinecone.distance_function == "ip"
    assert again.pk == qdrant.pk
    assert (again.store_type, again.distance_function, again.collection_name) == ("ChromaStore", "cosine", "handbook")
    assert Database.objects.filter(scope=SCOPE).count() == 2


@pytest.mark.django_db
def test_an_unknown_store_type_or_distance_is_invalid_naming_the_valid_ones():
    with pytest.raises(Invalid, match="use one of ChromaStore, QdrantStore, FAISSStore, PineconeStore"):
        services.database_ensure(scope=SCOPE, config={"name": "main_db", "type": "MilvusStore"})
    with pytest.raises(Invalid, match="use one of cosine, l2, ip"):
        services.database_ensure(
            scope=SCOPE, config={"name": "main_db", "type": "ChromaStore", "config": {"distance_function": "hamming"}}
        )


@pytest.mark.django_db
def test_one_hnsw_index_per_dimension_and_distance_is_made_once_and_serves_the_same_cast_and_condition(
    fake_embedder, handbook
):
    outcome = ingest(handbook(), openai_database(fake_embedder))

    assert outcome.status == "processed"
    assert hnsw_index_exists(32, "cosine") and not hnsw_index_exists(32, "l2")
    assert hnsw_index_ensure(32, "cosine") is False  # already there
    assert hnsw_index_ensure(32, "l2") is True and hnsw_index_exists(32, "l2")
    database = Database.objects.get(scope=SCOPE, name="main_db")
    query = [0.1] * 32
    plan = explain(
        "SELECT id FROM rag_chunk WHERE dimension = 32 AND database_id = %s "
        "ORDER BY embedding::vector(32) <=> %s::vector(32) LIMIT 5",
        [database.pk, str(query)],
    )
    assert "rag_chunk_hnsw_cosine_32" in plan
    assert "rag_chunk_hnsw_cosine_32" not in explain(  # without the condition the partial index cannot serve
        "SELECT id FROM rag_chunk ORDER BY embedding::vector(32) <=> %s::vector(32) LIMIT 5", [str(query)]
    )


@pytest.mark.django_db
def test_stats_count_the_vectors_and_their_real_storage(fake_embedder, handbook):
    database = openai_database(fake_embedder)
    empty = services.database_stats(scope=SCOPE, database=database)
    first = ingest(handbook("a.txt"), database)
    second = ingest(handbook("b.txt", topic="travel"), database)

    stats = services.database_stats(scope=SCOPE, database=database)

    assert (empty["vector_count"], empty["storage_bytes"], empty["last_updated"]) == (0, 0, None)
    assert stats["vector_count"] == first.chunks + second.chunks
    # Each row holds at least its 32 float32s (+ 8 bytes of header) and its text.
    texts = sum(len(text) for text in Chunk.objects.values_list("text", flat=True))
    assert stats["storage_bytes"] >= stats["vector_count"] * (32 * 4 + 8) + texts
    assert stats["storage_human"].endswith("KB")
    assert (stats["database"], stats["embedding_dimension"], stats["collection_name"]) == (
        "main_db",
        32,
        "main_db_docs",
    )
    assert stats["last_updated"] == Database.objects.get(scope=SCOPE, name="main_db").updated_at
    assert stats["last_updated"] >= Document.objects.get(file_hash=second.file_hash).date_ingested


@pytest.mark.django_db
def test_documents_are_listed_newest_first_in_the_specs_shape(fake_embedder, handbook):
    database = openai_database(fake_embedder)
    older = ingest(handbook("a.txt"), database)
    newer = ingest(handbook("b.txt", topic="travel"), database)

    listed = services.documents_list(scope=SCOPE, database="main_db")

    assert [item["id"] for item in listed] == [newer.file_hash, older.file_hash]
    assert set(listed[0]) == {"id", "filename", "chunk_count", "size_bytes", "parser_used", "date_ingested", "metadata"}
    assert (listed[0]["filename"], listed[0]["chunk_count"], listed[0]["parser_used"]) == (
        "b.txt",
        newer.chunks,
        "TextParser_Python",
    )
    assert listed[0]["metadata"]["source_dataset"] == "policies"
    assert services.documents_list(scope=SCOPE, database="main_db", limit=1) == listed[:1]
    assert services.documents_list(scope=SCOPE, database="never_used") == []


@pytest.mark.django_db
def test_health_is_healthy_with_real_latencies_and_degraded_naming_a_down_embedder(fake_embedder, handbook):
    database = openai_database(fake_embedder)
    ingest(handbook(), database)
    fake_embedder.clear_log()

    healthy = services.database_health(scope=SCOPE, database=database)
    fake_embedder.go_down()
    degraded = services.database_health(scope=SCOPE, database=database)

    assert (healthy["status"], healthy["database"], healthy["issues"]) == ("healthy", "main_db", None)
    assert healthy["components"]["vector_store"]["status"] == "healthy"
    assert healthy["components"]["vector_store"]["latency"] > 0
    assert healthy["components"]["embeddings"]["latency"] > 0
    assert len(fake_embedder.requests_to("/v1/embeddings")) == 1  # one real embedding, then it went down
    assert degraded["status"] == "degraded"
    assert degraded["components"]["embeddings"]["status"] == "unhealthy"
    assert degraded["components"]["vector_store"]["status"] == "healthy"
    assert len(degraded["issues"]) == 1 and fake_embedder.url in degraded["issues"][0]


@pytest.mark.django_db
def test_dropping_a_database_or_a_scope_deletes_its_vectors_and_nothing_else(fake_embedder, handbook):
    path = handbook()
    kept = ingest(path, openai_database(fake_embedder), scope="acme/other")
    dropped = ingest(path, openai_database(fake_embedder))
    ingest(path, openai_database(fake_embedder, name="second_db"))

    assert services.database_drop(scope=SCOPE, name="main_db") == dropped.chunks
    assert services.database_drop(scope=SCOPE, name="main_db") == 0
    services.scope_drop(scope=SCOPE)

    assert not Database.objects.filter(scope=SCOPE).exists()
    assert Chunk.objects.filter(database__scope="acme/other").count() == kept.chunks
    assert Chunk.objects.count() == kept.chunks


@pytest.fixture
def minilm_runtime(live_server, settings):
    """all-MiniLM-L6-v2 in the store, served by the runtime surface of the live test server,
    registered as the `local` backend: `model_embed` reaches it over HTTP, as in production."""
    folder = layout.model_dir("local", DEFAULT_EMBED_MODEL)
    for name, source in minilm_files().items():
        if not (folder / name).exists():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, folder / name)
    store.local_model_record(source="local", model_id=DEFAULT_EMBED_MODEL)
    settings.MODELYARD_RUNTIME_PORT = int(live_server.url.rsplit(":", 1)[1])
    local_runtime_register()
    routing.routing_invalidate()
    routing.routing_health_reset()
    yield
    routing.routing_invalidate()


@pytest.mark.ml
@pytest.mark.django_db(transaction=True)
def test_minilm_through_the_local_runtime_stores_384d_vectors_that_rank_the_right_chunk_first(minilm_runtime, tmp_path):
    path = tmp_path / "zoo.txt"
    path.write_text(
        "Penguins are flightless seabirds that live in the southern hemisphere.\n\n"
        "The quarterly budget review covers invoices, payroll and tax filings.\n\n"
        "Volcanoes erupt molten lava when pressure builds beneath the crust.\n"
    )
    database = {"name": "main_db", "type": "ChromaStore"}  # no strategy: the runtime's default embedder

    outcome = ingest(path, database)
    health = services.database_health(scope=SCOPE, database=database)

    assert outcome.status == "processed" and outcome.chunks == 3, outcome.reason
    assert Database.objects.get(scope=SCOPE, name="main_db").dimension == 384
    assert hnsw_index_exists(384, "cosine")
    assert health["status"] == "healthy", health
    # A real query vector from the same runtime, through the same cast and condition as the index.
    [query] = services.texts_embed(database=database, texts=["Which birds cannot fly?"])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT text FROM rag_chunk WHERE dimension = 384 ORDER BY embedding::vector(384) <=> %s::vector(384)",
            [str(query)],
        )
        ranked = [row[0] for row in cursor.fetchall()]
    assert ranked[0].startswith("Penguins")
