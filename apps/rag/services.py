"""The rag app's public API: the storage of configured databases, ingestion, and their stats and
health. Callers pass a database's config dict (one `rag.databases[]` entry of a project's config):
rag never reads the project. `scope` ("namespace/project") names the owner.
"""

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from apps.core.errors import DomainError, Invalid, Unavailable
from apps.modelstore.units import human_size_binary
from apps.rag import retrieval
from apps.rag.embedding import EMBEDDER_TYPES, EmbeddingFailed, embed_texts, embedder_for
from apps.rag.ingestion import IngestOutcome, Progress, ingest_file
from apps.rag.models import Chunk, Database, Document
from apps.rag.storage import DISTANCE_FUNCTIONS, STORE_TYPES, distance_of, hnsw_index_ensure

__all__ = [
    "DISTANCE_FUNCTIONS",
    "EMBEDDER_TYPES",
    "RETRIEVAL_STRATEGY_TYPES",
    "STORE_TYPES",
    "IngestOutcome",
    "database_drop",
    "database_ensure",
    "database_health",
    "database_stats",
    "document_ingest",
    "document_revert",
    "documents_list",
    "rag_query",
    "scope_drop",
    "texts_embed",
]

# Short store names some configs use, for the declared type.
STORE_SHORT_NAMES = {
    "chroma": "ChromaStore",
    "qdrant": "QdrantStore",
    "faiss": "FAISSStore",
    "pinecone": "PineconeStore",
}
HEALTH_PROBE_TEXT = "health check"


def _store_type(declared: object) -> str:
    if declared in STORE_TYPES:
        return str(declared)
    if isinstance(declared, str) and declared.lower() in STORE_SHORT_NAMES:
        return STORE_SHORT_NAMES[declared.lower()]
    raise Invalid(f"unknown database type {declared!r}: use one of {', '.join(STORE_TYPES)}")


def _collection_name(config: dict) -> str:
    return str((config.get("config") or {}).get("collection_name") or config["name"])


def database_ensure(*, scope: str, config: dict) -> Database:
    """The storage row of the database `config` (one `rag.databases[]` entry: name, type,
    config{collection_name, distance_function…}) of `scope`, created or brought up to date.

    Raises Invalid for an unknown store type or distance function. When the distance changes on a
    database that already holds vectors, the HNSW index for the new distance is made.
    """
    name = config.get("name")
    if not name:
        raise Invalid("a database config needs a name")
    facts = {
        "store_type": _store_type(config.get("type")),
        "distance_function": distance_of(config),
        "collection_name": _collection_name(config),
    }
    try:
        with transaction.atomic():
            database, created = Database.objects.get_or_create(scope=scope, name=name, defaults=facts)
    except IntegrityError:  # created meanwhile by a concurrent call
        database, created = Database.objects.get(scope=scope, name=name), False
    changed = [field for field, value in facts.items() if getattr(database, field) != value]
    if not created and changed:
        for field in changed:
            setattr(database, field, facts[field])
        database.save(update_fields=[*changed, "updated_at"])
        if "distance_function" in changed and database.dimension:
            hnsw_index_ensure(database.dimension, database.distance_function)
    return database


def _database_get(*, scope: str, name: str) -> Database | None:
    return Database.objects.filter(scope=scope, name=name).first()


def database_drop(*, scope: str, name: str) -> int:
    """Delete the storage of database `name` of `scope` (its documents and chunks); the number of
    vectors (chunks) deleted, 0 when it stored nothing."""
    database = _database_get(scope=scope, name=name)
    if database is None:
        return 0
    with transaction.atomic():
        count = Chunk.objects.filter(database=database).count()
        database.delete()
    return count


def scope_drop(*, scope: str) -> None:
    """Delete every database of `scope` with its documents and chunks (the project was deleted)."""
    Database.objects.filter(scope=scope).delete()


def document_ingest(
    *,
    scope: str,
    database: dict,
    strategy: dict,
    path: Path,
    filename: str,
    file_hash: str,
    dataset: str,
    on_progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> IngestOutcome:
    """Ingest one file into the configured `database` of `scope` with the data-processing
    `strategy` (a `rag.data_processing_strategies[]` entry).

    `on_progress(done_chunks, total_chunks, message)` is called as it goes (total 0 while parsing);
    `should_stop()` is asked between embedding batches. The outcome (`IngestOutcome`):
    processed; skipped with reason "duplicate" when the same file is there with the same embedding
    strategy (a changed strategy re-embeds it); failed with the reason (unreadable file, no parser,
    embedder down after a bounded number of attempts, wrong dimension, "cancelled"). All or nothing
    per file: a failure leaves no chunk of it and its previous version intact. Raises only for a
    database config that cannot be stored (Invalid).
    """
    db = database_ensure(scope=scope, config=database)
    return ingest_file(
        db=db,
        database=database,
        strategy=strategy,
        path=path,
        filename=filename,
        file_hash=file_hash,
        dataset=dataset,
        on_progress=on_progress,
        should_stop=should_stop,
    )


def texts_embed(*, database: dict, texts: list[str]) -> list[list[float]]:
    """One vector per text from the embedder of the configured `database` (e.g. a query), in
    batches, each tried up to MODELYARD_RAG_EMBED_ATTEMPTS times. Raises Invalid for an unusable
    embedding strategy, Unavailable with the reason when embedding fails."""
    try:
        return embed_texts(embedder_for(database), texts)
    except EmbeddingFailed as error:
        raise Unavailable(error.reason) from None


def document_revert(*, scope: str, file_hash: str, database: str | None = None) -> int:
    """Remove the file `file_hash` from database `database` of `scope` (every database of `scope`
    when None), its chunks with it; the number of chunks removed."""
    documents = Document.objects.filter(database__scope=scope, file_hash=file_hash)
    if database is not None:
        documents = documents.filter(database__name=database)
    with transaction.atomic():
        removed = Chunk.objects.filter(document__in=documents).count()
        touched = set(documents.values_list("database_id", flat=True))
        documents.delete()
        Database.objects.filter(pk__in=touched).update(updated_at=timezone.now())
    return removed


def documents_list(*, scope: str, database: str, limit: int = 50) -> list[dict]:
    """The documents of database `database` of `scope`, newest first, at most `limit`, in the
    spec's shape: id (the file hash), filename, chunk_count, size_bytes, parser_used,
    date_ingested (datetime), metadata (dict, None when empty). Empty when nothing was ingested."""
    documents = Document.objects.filter(database__scope=scope, database__name=database).order_by(
        "-date_ingested", "id"
    )[:limit]
    return [
        {
            "id": document.file_hash,
            "filename": document.filename,
            "chunk_count": document.chunk_count,
            "size_bytes": document.size_bytes,
            "parser_used": document.parser_used,
            "date_ingested": document.date_ingested,
            "metadata": document.metadata or None,
        }
        for document in documents
    ]


def _storage_bytes(database: Database) -> int:
    """Bytes the database's chunks take in their rows (pg_column_size of text, metadata, tsvector
    and vector: what Postgres stores, compressed or not), index space not counted."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(pg_column_size(text) + pg_column_size(metadata) + pg_column_size(search_vector)"
            " + pg_column_size(embedding)), 0) FROM rag_chunk WHERE database_id = %s",
            [database.pk],
        )
        return int(cursor.fetchone()[0])


def _declared_dimension(config: dict) -> int | None:
    try:
        return embedder_for(config).dimension
    except DomainError:
        return None


def database_stats(*, scope: str, database: dict) -> dict:
    """Statistics of the configured `database` of `scope`, in the spec's shape: database (name),
    vector_count, storage_bytes (see `_storage_bytes`), storage_human ("50.0 MB", binary units),
    embedding_dimension (stored vectors', else the strategy's declared one, else None),
    collection_name, last_updated (datetime of the last ingestion or change, None when never stored).
    """
    name = database["name"]
    row = _database_get(scope=scope, name=name)
    if row is None:
        return {
            "database": name,
            "vector_count": 0,
            "storage_bytes": 0,
            "storage_human": human_size_binary(0),
            "embedding_dimension": _declared_dimension(database),
            "collection_name": _collection_name(database),
            "last_updated": None,
        }
    storage = _storage_bytes(row)
    counted = Document.objects.filter(database=row).aggregate(last=Max("date_ingested"))
    last: datetime = max(filter(None, [counted["last"], row.updated_at]))
    return {
        "database": name,
        "vector_count": Chunk.objects.filter(database=row).count(),
        "storage_bytes": storage,
        "storage_human": human_size_binary(storage),
        "embedding_dimension": row.dimension or _declared_dimension(database),
        "collection_name": row.collection_name or _collection_name(database),
        "last_updated": last,
    }


def _component(name: str, status: str, latency_ms: float, message: str) -> dict:
    return {"name": name, "status": status, "latency": round(latency_ms, 1), "message": message}


def _vector_store_health(row: Database | None) -> dict:
    """A real query on the chunks table (the database's vectors, or any when none is stored yet)."""
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM rag_chunk WHERE database_id = %s", [row.pk if row is not None else None]
            )
            count = cursor.fetchone()[0]
    except DatabaseError as error:
        return _component("vector_store", "unhealthy", (time.perf_counter() - started) * 1000, str(error).strip())
    latency = (time.perf_counter() - started) * 1000
    return _component("vector_store", "healthy", latency, f"Vector store operational ({count} vectors)")


def _embeddings_health(database: dict, row: Database | None) -> dict:
    """One real embedding of a short text by the database's embedder, tried once."""
    started = time.perf_counter()
    try:
        embedder = embedder_for(database)
        vectors = embed_texts(embedder, [HEALTH_PROBE_TEXT], attempts=1)
    except (DomainError, EmbeddingFailed) as error:
        reason = error.message if isinstance(error, DomainError) else error.reason
        return _component("embeddings", "unhealthy", (time.perf_counter() - started) * 1000, reason)
    latency = (time.perf_counter() - started) * 1000
    got = len(vectors[0])
    if row is not None and row.dimension and row.dimension != got:
        message = f"{embedder.describe()} gives {got}-dimensional vectors; the database holds {row.dimension}"
        return _component("embeddings", "degraded", latency, message)
    return _component("embeddings", "healthy", latency, f"Embedding service operational ({embedder.describe()})")


def database_health(*, scope: str, database: dict) -> dict:
    """Health of the configured `database` of `scope`, in the spec's shape: status (healthy |
    degraded | unhealthy), database (name), components {vector_store, embeddings: {name, status,
    latency (ms), message}}, last_check (datetime), issues (messages, None when all is healthy).

    Unhealthy when the vector store fails; degraded when only the embedder fails or disagrees with
    the stored dimension (stored vectors stay searchable by keyword).
    """
    row = _database_get(scope=scope, name=database["name"])
    vector_store = _vector_store_health(row)
    embeddings = _embeddings_health(database, row)
    if vector_store["status"] != "healthy":
        status = "unhealthy"
    elif embeddings["status"] != "healthy":
        status = "degraded"
    else:
        status = "healthy"
    issues = [
        f"{component['name']}: {component['message']}"
        for component in (vector_store, embeddings)
        if component["status"] != "healthy"
    ]
    return {
        "status": status,
        "database": database["name"],
        "components": {"vector_store": vector_store, "embeddings": embeddings},
        "last_check": timezone.now(),
        "issues": issues or None,
    }


# --- retrieval (apps.rag.retrieval) -------------------------------------------------------------

RETRIEVAL_STRATEGY_TYPES = retrieval.STRATEGY_TYPES


def rag_query(*, scope: str, database: dict, query: str, **options: Any) -> dict:
    """A query against one database of `scope`; see `apps.rag.retrieval.rag_query` (fields, errors)."""
    return retrieval.rag_query(scope=scope, database=database, query=query, **options)
