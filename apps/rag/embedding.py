"""Embedding strategies of a RAG database (LlamaFarm's `embedding_strategies[]`) on the backends layer.

The runtime kinds (`UniversalEmbedder`, `HuggingFaceEmbedder`, `SentenceTransformerEmbedder`) run
on the model runtime, routed by model name like any `/embed` call (default: the runtime's default
embedding model). `OllamaEmbedder` and `OpenAIEmbedder` with a `base_url` call that endpoint
through its provider adapter; without one they are routed by model name too (a registered backend
that has the model). Config fields and defaults are LlamaFarm's (`rag/schema.yaml`): `model`
(`model_name` for the HuggingFace kinds), `base_url`, `api_key`, `dimension`, `batch_size`,
`timeout` (seconds).

An embedder that is down fails fast: each batch is tried `MODELYARD_RAG_EMBED_ATTEMPTS` times with
a short doubling back-off, then the whole embedding fails with the reason (LlamaFarm #514: a down
embedder must not turn into minutes of retries and a flood of log lines).
"""

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from apps.backends import selectors as backends_selectors
from apps.backends import services as backends
from apps.core.errors import DomainError, Invalid, Unavailable

logger = logging.getLogger(__name__)

EMBEDDER_TYPES: tuple[str, ...] = (
    "UniversalEmbedder",
    "OllamaEmbedder",
    "OpenAIEmbedder",
    "HuggingFaceEmbedder",
    "SentenceTransformerEmbedder",
)
# Embedder type -> the provider adapter of its own endpoint (when the strategy names a base_url).
ENDPOINT_PROVIDERS = {"OllamaEmbedder": "ollama", "OpenAIEmbedder": "openai"}
# LlamaFarm's defaults per type: model, batch size.
DEFAULT_MODELS = {"OllamaEmbedder": "nomic-embed-text", "OpenAIEmbedder": "text-embedding-3-small"}
DEFAULT_BATCH_SIZES = {
    "UniversalEmbedder": 16,
    "OllamaEmbedder": 16,
    "OpenAIEmbedder": 100,
    "HuggingFaceEmbedder": 32,
    "SentenceTransformerEmbedder": 32,
}
DEFAULT_TIMEOUT_S = 60.0


class EmbeddingFailed(Exception):
    """Embedding gave up; `reason` says why in words a user can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EmbeddingStopped(Exception):
    """`should_stop()` answered True between two batches."""


@dataclass(frozen=True)
class Embedder:
    """One resolved embedding strategy. `base_url` empty: routed by model name through the backends."""

    type: str
    model: str
    base_url: str = ""
    api_key: str = ""
    dimension: int | None = None  # declared by the strategy; checked against what comes back
    batch_size: int = 16
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def signature(self) -> str:
        """64 hex chars identifying what the vectors depend on: type, model, dimension, base_url.

        A file ingested again with the same signature is a duplicate; a changed one re-embeds."""
        facts = [self.type, self.model, self.dimension, self.base_url.rstrip("/")]
        return hashlib.sha256(json.dumps(facts).encode()).hexdigest()

    def describe(self) -> str:
        where = f" at {self.base_url}" if self.base_url else ""
        return f"{self.type} {self.model}{where}"


def _positive_int(value: object, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Invalid(f"embedding strategy {field} must be a positive integer, not {value!r}")
    return value


def embedder_for(database: dict) -> Embedder:
    """The embedder of a database config (one `rag.databases[]` entry): the strategy named by
    `default_embedding_strategy`, else the first of `embedding_strategies`, else the runtime's
    default embedding model (UniversalEmbedder).

    Raises Invalid for an unknown embedder type or a default naming no strategy; NotFound when no
    model is given and the runtime has no default embedding model.
    """
    strategies = database.get("embedding_strategies") or []
    chosen: dict = {}
    default_name = database.get("default_embedding_strategy")
    if default_name:
        matching = [strategy for strategy in strategies if strategy.get("name") == default_name]
        if not matching:
            raise Invalid(f"default_embedding_strategy {default_name!r} names no embedding strategy")
        chosen = matching[0]
    elif strategies:
        chosen = strategies[0]
    embedder_type = chosen.get("type") or "UniversalEmbedder"
    if embedder_type not in EMBEDDER_TYPES:
        raise Invalid(f"unknown embedder type {embedder_type!r}: use one of {', '.join(EMBEDDER_TYPES)}")
    config = chosen.get("config") or {}
    provider = ENDPOINT_PROVIDERS.get(embedder_type)
    base_url = (config.get("base_url") or "") if provider else ""
    model = config.get("model") or config.get("model_name") or DEFAULT_MODELS.get(embedder_type)
    if not model:
        model = backends_selectors.embed_model_name()
    timeout = config.get("timeout")
    return Embedder(
        type=embedder_type,
        model=str(model),
        base_url=str(base_url),
        api_key=str(config.get("api_key") or ""),
        dimension=_positive_int(config.get("dimension"), "dimension"),
        batch_size=_positive_int(config.get("batch_size"), "batch_size") or DEFAULT_BATCH_SIZES[embedder_type],
        timeout_s=float(timeout) if isinstance(timeout, int | float) and timeout > 0 else DEFAULT_TIMEOUT_S,
    )


def _embed_once(embedder: Embedder, texts: list[str]) -> list[list[float]]:
    provider = ENDPOINT_PROVIDERS.get(embedder.type)
    if provider and embedder.base_url:
        return backends.endpoint_embed(
            type=provider,
            base_url=embedder.base_url,
            model=embedder.model,
            inputs=texts,
            api_key=embedder.api_key,
            timeout_s=embedder.timeout_s,
        )
    return backends.model_embed(model=embedder.model, inputs=texts)


def _embed_batch(embedder: Embedder, texts: list[str], *, attempts: int, backoff_s: float) -> list[list[float]]:
    """One batch, tried up to `attempts` times while the embedder is unavailable."""
    for attempt in range(1, attempts + 1):
        try:
            return _embed_once(embedder, texts)
        except Unavailable as error:
            if attempt == attempts:
                raise EmbeddingFailed(
                    f"embedder {embedder.describe()} unavailable after {attempts} attempt(s): {error.message}"
                ) from None
            time.sleep(backoff_s * 2 ** (attempt - 1))
        except DomainError as error:  # refused, unknown model: asking again gives the same answer
            raise EmbeddingFailed(f"embedder {embedder.describe()} failed: {error.message}") from None
    raise AssertionError("unreachable")


def embed_texts(
    embedder: Embedder,
    texts: list[str],
    *,
    on_batch: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    attempts: int | None = None,
) -> list[list[float]]:
    """One vector per text, in order, embedded `embedder.batch_size` texts at a time.

    Batches are made of texts of similar length (longest first; the vectors come back in the
    texts' order), as sentence-transformers' own `encode()` sorts them: a model pads every text of
    a batch to its longest, so batches of mixed lengths cost up to a third more compute.

    Calls `on_batch(done_texts)` after each batch and `should_stop()` before each one (raising
    EmbeddingStopped when it answers True). Raises EmbeddingFailed with the reason when the embedder
    stays unavailable for `attempts` tries of a batch (default MODELYARD_RAG_EMBED_ATTEMPTS), refuses,
    returns vectors of a dimension other than the declared one, or of differing dimensions.
    """
    attempts = attempts if attempts is not None else max(1, settings.MODELYARD_RAG_EMBED_ATTEMPTS)
    order = sorted(range(len(texts)), key=lambda index: -len(texts[index]))
    vectors: list[list[float]] = [[] for _ in texts]
    done, dimension = 0, embedder.dimension
    for start in range(0, len(texts), embedder.batch_size):
        if should_stop is not None and should_stop():
            raise EmbeddingStopped
        positions = order[start : start + embedder.batch_size]
        batch = [texts[index] for index in positions]
        got = _embed_batch(embedder, batch, attempts=attempts, backoff_s=settings.MODELYARD_RAG_EMBED_BACKOFF)
        _check_batch(embedder, batch, got, expected=dimension)
        dimension = len(got[0]) if got else dimension
        for index, vector in zip(positions, got, strict=True):
            vectors[index] = vector
        done += len(got)
        if on_batch is not None:
            on_batch(done)
    return vectors


def _check_batch(embedder: Embedder, batch: list[str], got: list[list[float]], *, expected: int | None) -> None:
    """After each batch, so that a wrong dimension fails at the first one, not after the whole file."""
    if len(got) != len(batch):
        raise EmbeddingFailed(f"embedder {embedder.describe()} returned {len(got)} vectors for {len(batch)} texts")
    dimensions = {len(vector) for vector in got}
    if expected is not None:
        dimensions.add(expected)
    if len(dimensions) == 1:
        return
    if embedder.dimension is not None:
        wrong = sorted(dimensions - {embedder.dimension})
        raise EmbeddingFailed(
            f"the embedding strategy declares dimension {embedder.dimension}, "
            f"but {embedder.describe()} returns {wrong[0]}-dimensional vectors"
        )
    raise EmbeddingFailed(
        f"embedder {embedder.describe()} returned vectors of differing dimensions {sorted(dimensions)}"
    )
