"""Ingesting a file into a database: parse, chunk, embed in batches, store all or nothing."""

import hashlib
from pathlib import Path

import pytest
from django.contrib.postgres.search import SearchQuery

from apps.rag import services
from apps.rag.models import Chunk, Document
from tests.rag.conftest import SCOPE, TEXT_STRATEGY, openai_database

pytestmark = pytest.mark.django_db

EMBEDDINGS = "/v1/embeddings"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ingest(path: Path, database: dict, **options):
    return services.document_ingest(
        scope=SCOPE,
        database=database,
        strategy=TEXT_STRATEGY,
        path=path,
        filename=path.name,
        file_hash=sha256(path),
        dataset="policies",
        **options,
    )


def test_a_document_is_stored_as_chunks_with_vectors_search_vectors_and_metadata(fake_embedder, handbook):
    path = handbook(paragraphs=10)
    progress = []

    outcome = ingest(path, openai_database(fake_embedder), on_progress=lambda *report: progress.append(report))

    assert (outcome.status, outcome.reason, outcome.parser) == ("processed", "", "TextParser_Python")
    document = Document.objects.get(file_hash=outcome.file_hash)
    chunks = list(document.chunks.order_by("ordinal"))
    assert outcome.chunks == document.chunk_count == len(chunks) > 2
    assert (document.filename, document.size_bytes, document.dataset) == (path.name, path.stat().st_size, "policies")
    assert document.metadata["source_dataset"] == "policies"
    assert document.database.dimension == 32 and document.database.collection_name == "main_db_docs"
    first = chunks[0]
    assert len(first.embedding) == first.dimension == 32
    assert "Paragraph 1 " in first.text
    assert first.metadata["filename"] == path.name and first.metadata["dataset"] == "policies"
    assert first.metadata["document_id"] == outcome.file_hash
    assert path.read_text()[first.metadata["start"] : first.metadata["end"]].strip() == first.text.strip()
    # Postgres generated the tsvector: English stemming finds "policies" for "policy".
    found = Chunk.objects.filter(document=document, search_vector=SearchQuery("policies", config="english"))
    assert found.count() == len(chunks)
    # Batches of 4: ceil(chunks / 4) requests, progress after each.
    assert len(fake_embedder.requests_to(EMBEDDINGS)) == -(-len(chunks) // 4)
    assert progress[-1][:2] == (len(chunks), len(chunks))
    assert [done for done, total, _ in progress if total] == sorted(done for done, total, _ in progress if total)


def test_the_same_file_with_the_same_strategy_is_skipped_as_a_duplicate_without_embedding(fake_embedder, handbook):
    path = handbook()
    database = openai_database(fake_embedder)
    first = ingest(path, database)
    fake_embedder.clear_log()

    again = ingest(path, database)

    assert (again.status, again.reason, again.chunks) == ("skipped", "duplicate", first.chunks)
    assert again.embedding_signature == first.embedding_signature
    assert fake_embedder.requests_to(EMBEDDINGS) == []
    assert Chunk.objects.filter(document__file_hash=first.file_hash).count() == first.chunks


def test_a_changed_embedding_strategy_re_embeds_the_file_replacing_its_chunks(fake_embedder, handbook):
    path = handbook()
    first = ingest(path, openai_database(fake_embedder, model="text-embedding-3-small"))
    old_ids = set(Chunk.objects.values_list("id", flat=True))

    again = ingest(path, openai_database(fake_embedder, model="text-embedding-3-large"))

    assert again.status == "processed" and again.embedding_signature != first.embedding_signature
    document = Document.objects.get(file_hash=first.file_hash)
    assert document.embedding_signature == again.embedding_signature
    assert document.chunks.count() == again.chunks == first.chunks
    assert not old_ids & set(Chunk.objects.values_list("id", flat=True))
    models = [request.json["model"] for request in fake_embedder.requests_to(EMBEDDINGS)]
    assert models[-1] == "text-embedding-3-large"


def test_an_embedder_down_mid_ingestion_fails_fast_with_the_reason_and_leaves_no_chunk(
    fake_embedder, handbook, settings
):
    settings.MODELYARD_RAG_EMBED_ATTEMPTS = 3
    settings.MODELYARD_RAG_EMBED_BACKOFF = 0.01
    path = handbook(paragraphs=12)

    def embedder_goes_down(done: int, total: int, message: str) -> None:
        if done == 4:  # after the first batch
            fake_embedder.fail_next(100, status=503, path=EMBEDDINGS)

    outcome = ingest(path, openai_database(fake_embedder), on_progress=embedder_goes_down)

    assert outcome.status == "failed"
    assert "unavailable after 3 attempt(s)" in outcome.reason and fake_embedder.url in outcome.reason
    assert len(fake_embedder.requests_to(EMBEDDINGS)) == 1 + 3  # the first batch, then 3 tries of the second
    assert not Document.objects.exists() and not Chunk.objects.exists()


def test_a_failed_re_embedding_keeps_the_previous_version_intact(fake_embedder, handbook, settings):
    settings.MODELYARD_RAG_EMBED_BACKOFF = 0.01
    path = handbook()
    first = ingest(path, openai_database(fake_embedder, model="text-embedding-3-small"))
    fake_embedder.fail_next(100, status=503, path=EMBEDDINGS)

    again = ingest(path, openai_database(fake_embedder, model="text-embedding-3-large"))

    assert again.status == "failed"
    document = Document.objects.get(file_hash=first.file_hash)
    assert document.embedding_signature == first.embedding_signature
    assert document.chunks.count() == first.chunks


def test_a_declared_dimension_the_embedder_does_not_return_fails_with_that_reason(fake_embedder, handbook):
    outcome = ingest(handbook(), openai_database(fake_embedder, dimension=768))

    assert outcome.status == "failed"
    assert "declares dimension 768" in outcome.reason and "32-dimensional" in outcome.reason
    assert len(fake_embedder.requests_to(EMBEDDINGS)) == 1  # stopped at the first batch
    assert not Chunk.objects.exists()


def test_an_unreadable_file_fails_with_the_parsers_reason_and_asks_no_embedding(fake_embedder, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")

    outcome = ingest(empty, openai_database(fake_embedder))

    assert outcome.status == "failed" and outcome.reason
    assert fake_embedder.requests_to(EMBEDDINGS) == []
    assert not Document.objects.exists()


def test_a_stop_between_batches_cancels_and_leaves_nothing(fake_embedder, handbook):
    calls = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) > 1  # let the first batch through

    outcome = ingest(handbook(paragraphs=12), openai_database(fake_embedder), should_stop=should_stop)

    assert (outcome.status, outcome.reason) == ("failed", "cancelled")
    assert len(fake_embedder.requests_to(EMBEDDINGS)) == 1
    assert not Chunk.objects.exists()


def test_revert_removes_the_files_document_and_chunks_from_its_database_only(fake_embedder, handbook):
    path, other = handbook("a.txt"), handbook("b.txt", topic="travel")
    kept = ingest(path, openai_database(fake_embedder, name="second_db"))
    reverted = ingest(path, openai_database(fake_embedder))
    ingest(other, openai_database(fake_embedder))

    removed = services.document_revert(scope=SCOPE, file_hash=reverted.file_hash, database="main_db")

    assert removed == reverted.chunks
    assert not Document.objects.filter(database__name="main_db", file_hash=reverted.file_hash).exists()
    assert Document.objects.filter(database__name="second_db", file_hash=kept.file_hash).exists()
    assert Document.objects.filter(database__name="main_db").count() == 1
    assert services.document_revert(scope=SCOPE, file_hash=reverted.file_hash) == kept.chunks  # every database
    assert services.document_revert(scope=SCOPE, file_hash=reverted.file_hash) == 0


def test_a_database_keeps_one_dimension_a_wider_embedder_fails_naming_both(fake_embedder, handbook):
    ingest(handbook("a.txt"), openai_database(fake_embedder))
    wide = openai_database(fake_embedder, model="text-embedding-3-large")
    fake_embedder.embedding_dim = 48

    outcome = ingest(handbook("b.txt", topic="travel"), wide)

    assert outcome.status == "failed"
    assert "holds 32-dimensional vectors" in outcome.reason and "48-dimensional" in outcome.reason
    assert Document.objects.count() == 1
