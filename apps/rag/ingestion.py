"""Ingesting one file into one database: parse and chunk, embed in batches, store all or nothing.

The flow (`ingest_file`): a file whose hash is already in the database with the same embedding
signature is a duplicate (skipped); otherwise it is parsed and chunked by the data-processing
strategy's parsers (`apps.rag.parsers.document_read`), its chunks are embedded in batches (progress
after each, a stop check before each), and the Document with all its Chunks is written in ONE
transaction that first deletes the file's previous version in that database. Any failure leaves
nothing of the new version and the previous one intact: the outcome says why, nothing is raised
for a bad file or a down embedder.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction

from apps.core.errors import DomainError
from apps.rag.embedding import Embedder, EmbeddingFailed, EmbeddingStopped, embed_texts, embedder_for
from apps.rag.models import Chunk, Database, Document
from apps.rag.parsers import ChunkPiece, ReadDocument, document_read
from apps.rag.storage import hnsw_index_ensure

logger = logging.getLogger(__name__)

PROCESSED, SKIPPED, FAILED = "processed", "skipped", "failed"
DUPLICATE = "duplicate"
CANCELLED = "cancelled"
CHUNK_INSERT_BATCH = 500

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class IngestOutcome:
    """What became of one file: `status` processed | skipped (reason "duplicate") | failed (reason
    in words); `chunks` stored (or already there, for a duplicate); `parser` the parser type used."""

    status: str
    reason: str
    file_hash: str
    filename: str
    parser: str = ""
    chunks: int = 0
    embedding_signature: str = ""


class _WriteRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _without_nul(value: Any) -> Any:
    """PostgreSQL text and jsonb refuse NUL characters, which some PDFs and Office files carry."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(item) for item in value]
    return value


def _chunk_metadata(piece: ChunkPiece, *, filename: str, dataset: str, file_hash: str) -> dict:
    return _without_nul(
        {
            **(piece.metadata or {}),
            "filename": filename,
            "page": piece.page,
            "heading": piece.heading,
            "start": piece.start,
            "end": piece.end,
            "dataset": dataset,
            "document_id": file_hash,
        }
    )


def ingest_file(
    *,
    db: Database,
    database: dict,
    strategy: dict,
    path: Path,
    filename: str,
    file_hash: str,
    dataset: str,
    on_progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> IngestOutcome:
    """Ingest the file at `path` into `db` (whose config is `database`) with the data-processing
    `strategy`. Never raises for a bad file, an unusable strategy or a down embedder: the outcome
    is failed with the reason (and one log line). See the module docstring for the flow."""

    def report(done: int, total: int, message: str) -> None:
        if on_progress is not None:
            on_progress(done, total, message)

    def outcome(status: str, reason: str, **facts: Any) -> IngestOutcome:
        if status == FAILED:
            logger.warning("ingesting %s (%s) into %s failed: %s", filename, file_hash[:12], db, reason)
        return IngestOutcome(status=status, reason=reason, file_hash=file_hash, filename=filename, **facts)

    try:
        embedder = embedder_for(database)
    except DomainError as error:
        return outcome(FAILED, f"embedding strategy: {error.message}")
    signature = embedder.signature
    previous = Document.objects.filter(database=db, file_hash=file_hash).first()
    if previous is not None and previous.embedding_signature == signature:
        return outcome(
            SKIPPED, DUPLICATE, parser=previous.parser_used, chunks=previous.chunk_count, embedding_signature=signature
        )

    report(0, 0, f"parsing {filename}")
    try:
        read = document_read(path=path, filename=filename, parsers=strategy.get("parsers") or [])
    except DomainError as error:  # DocumentUnreadable, or a parser config it cannot use
        return outcome(FAILED, error.message, embedding_signature=signature)
    if not read.chunks:
        return outcome(FAILED, "no text to index", parser=read.parser, embedding_signature=signature)

    total = len(read.chunks)
    report(0, total, f"embedding {total} chunks with {embedder.describe()}")
    try:
        vectors = embed_texts(
            embedder,
            [piece.text for piece in read.chunks],
            on_batch=lambda done: report(done, total, f"embedded {done}/{total} chunks"),
            should_stop=should_stop,
        )
        if should_stop is not None and should_stop():
            raise EmbeddingStopped
    except EmbeddingFailed as error:
        return outcome(FAILED, error.reason, parser=read.parser, embedding_signature=signature)
    except EmbeddingStopped:
        return outcome(FAILED, CANCELLED, parser=read.parser, embedding_signature=signature)

    try:
        stored = _store(
            db=db,
            read=read,
            vectors=vectors,
            embedder=embedder,
            path=path,
            filename=filename,
            file_hash=file_hash,
            dataset=dataset,
        )
    except _WriteRefused as refused:
        return outcome(FAILED, refused.reason, parser=read.parser, embedding_signature=signature)
    if stored is None:  # the same version was stored meanwhile by a concurrent ingestion
        return outcome(SKIPPED, DUPLICATE, parser=read.parser, chunks=total, embedding_signature=signature)
    hnsw_index_ensure(len(vectors[0]), db.distance_function)
    report(total, total, f"stored {total} chunks")
    return outcome(PROCESSED, "", parser=read.parser, chunks=total, embedding_signature=signature)


@transaction.atomic
def _store(
    *,
    db: Database,
    read: ReadDocument,
    vectors: list[list[float]],
    embedder: Embedder,
    path: Path,
    filename: str,
    file_hash: str,
    dataset: str,
) -> Document | None:
    """Replace the file's previous version in `db` by this one, in one transaction; None when this
    very version is already there. The database row is locked so that concurrent ingestions into
    one database agree on its dimension."""
    locked = Database.objects.select_for_update().get(pk=db.pk)
    dimension = len(vectors[0])
    previous = Document.objects.filter(database=locked, file_hash=file_hash).first()
    if previous is not None and previous.embedding_signature == embedder.signature:
        return None
    others = Chunk.objects.filter(database=locked).exclude(document__file_hash=file_hash)
    held = others.exclude(dimension=dimension).values_list("dimension", flat=True).first()
    if held is not None:
        raise _WriteRefused(
            f"database {locked.name!r} holds {held}-dimensional vectors but {embedder.describe()} gives "
            f"{dimension}-dimensional ones: re-ingest every file with one embedding strategy, or use another database"
        )
    if previous is not None:
        previous.delete()
    document = Document.objects.create(
        database=locked,
        file_hash=file_hash,
        filename=filename,
        size_bytes=path.stat().st_size,
        parser_used=read.parser,
        dataset=dataset,
        chunk_count=len(read.chunks),
        metadata=_without_nul({**(read.metadata or {}), "source_dataset": dataset}),
        embedding_signature=embedder.signature,
    )
    Chunk.objects.bulk_create(
        (
            Chunk(
                database=locked,
                document=document,
                ordinal=piece.ordinal,
                text=_without_nul(piece.text),
                metadata=_chunk_metadata(piece, filename=filename, dataset=dataset, file_hash=file_hash),
                embedding=vector,
                dimension=dimension,
            )
            for piece, vector in zip(read.chunks, vectors, strict=True)
        ),
        batch_size=CHUNK_INSERT_BATCH,
    )
    if locked.dimension != dimension:
        locked.dimension = dimension
    locked.save(update_fields=["dimension", "updated_at"])
    return document
