"""Fixtures of the RAG tests."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from apps.backends import routing
from tests.fakes.backends_openai import FakeOpenAI

# --- storage and ingestion (h3) --------------------------------------------------------------

SCOPE = "acme/handbook"
TEXT_STRATEGY = {
    "name": "plain_text",
    "parsers": [
        {
            "type": "TextParser_Python",
            "config": {"chunk_size": 120, "chunk_overlap": 0, "chunk_strategy": "paragraphs"},
            "file_extensions": [".txt"],
        }
    ],
}


@pytest.fixture
def fake_embedder() -> Iterator[FakeOpenAI]:
    """An OpenAI-compatible embeddings server on 127.0.0.1 (32-d hashed-word vectors), with
    `text-embedding-3-small` and `text-embedding-3-large`; it logs every request."""
    server = FakeOpenAI(name="rag-embedder", models=["text-embedding-3-small", "text-embedding-3-large"])
    server.start()
    routing.routing_health_reset()
    yield server
    server.stop()


def openai_database(
    fake: FakeOpenAI, *, name: str = "main_db", model: str = "text-embedding-3-small", **embedder
) -> dict:
    """A `rag.databases[]` config whose embedding strategy calls `fake` as an OpenAIEmbedder."""
    return {
        "name": name,
        "type": "ChromaStore",
        "config": {"collection_name": f"{name}_docs", "distance_function": "cosine"},
        "embedding_strategies": [
            {
                "name": "default",
                "type": "OpenAIEmbedder",
                "config": {"model": model, "base_url": f"{fake.url}/v1", "batch_size": 4, **embedder},
            }
        ],
        "default_embedding_strategy": "default",
    }


@pytest.fixture
def handbook(tmp_path: Path) -> Callable[..., Path]:
    """Writes a text file of `paragraphs` short paragraphs (each a chunk of TEXT_STRATEGY)."""

    def write(name: str = "handbook.txt", paragraphs: int = 10, topic: str = "vacation") -> Path:
        lines = [
            f"Paragraph {number} of the handbook explains the {topic} policy for team {number}."
            for number in range(1, paragraphs + 1)
        ]
        path = tmp_path / name
        path.write_text("\n\n".join(lines) + "\n")
        return path

    return write


# --- test documents (h2) ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def rag_documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every document of `tests.rag.documents.CORPUS`, written once per session: paths by file name."""
    from tests.rag.documents import corpus_build

    return corpus_build(tmp_path_factory.mktemp("rag_documents"))
