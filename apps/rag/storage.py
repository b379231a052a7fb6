"""How a configured database maps onto pgvector: declared store types, distance functions, and the
per-dimension partial HNSW indexes.

`rag_chunk.embedding` has no fixed dimension, and HNSW needs one, so there is one partial expression
index per (dimension, distance) in use, pgvector's documented pattern:

    CREATE INDEX rag_chunk_hnsw_cosine_384 ON rag_chunk
        USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE dimension = 384

A query uses it only with the same cast and condition, e.g.
`ORDER BY embedding::vector(384) <=> %s::vector(384) ... WHERE dimension = 384`.
"""

import logging

from django.db import connection, transaction

from apps.core.errors import Invalid
from apps.core.locks import advisory_xact_lock

logger = logging.getLogger(__name__)

# The vector store types a config may declare (LlamaFarm's); every one is stored in pgvector.
STORE_TYPES: tuple[str, ...] = ("ChromaStore", "QdrantStore", "FAISSStore", "PineconeStore")
DISTANCE_FUNCTIONS: tuple[str, ...] = ("cosine", "l2", "ip")
# The names the stores' configs use for them (Chroma, FAISS, Pinecone, Qdrant, LlamaFarm's retrieval).
DISTANCE_SYNONYMS = {
    "cosine": "cosine",
    "l2": "l2",
    "euclidean": "l2",
    "euclid": "l2",
    "ip": "ip",
    "dot": "ip",
    "dotproduct": "ip",
    "inner_product": "ip",
}
# The config keys that name the distance, in the order they are read.
DISTANCE_KEYS = ("distance_function", "distance_metric", "distance", "metric")
# pgvector's operator class and distance operator per distance function.
HNSW_OPCLASSES = {"cosine": "vector_cosine_ops", "l2": "vector_l2_ops", "ip": "vector_ip_ops"}
DISTANCE_OPERATORS = {"cosine": "<=>", "l2": "<->", "ip": "<#>"}
# pgvector indexes `vector` columns of at most this many dimensions; wider ones are scanned exactly.
HNSW_MAX_DIMENSIONS = 2000


def distance_of(database: dict) -> str:
    """The distance function of a database config (cosine when none is named), mapped from the
    synonyms the store types use; Invalid for an unknown one."""
    config = database.get("config") or {}
    for key in DISTANCE_KEYS:
        named = config.get(key)
        if named:
            distance = DISTANCE_SYNONYMS.get(str(named).lower())
            if distance is None:
                raise Invalid(f"unknown distance function {named!r}: use one of {', '.join(DISTANCE_FUNCTIONS)}")
            return distance
    return "cosine"


def hnsw_index_name(dimension: int, distance: str) -> str:
    return f"rag_chunk_hnsw_{distance}_{dimension}"


def hnsw_index_exists(dimension: int, distance: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_indexes WHERE tablename = 'rag_chunk' AND indexname = %s",
            [hnsw_index_name(dimension, distance)],
        )
        return cursor.fetchone() is not None


def hnsw_index_ensure(dimension: int, distance: str) -> bool:
    """Create the partial HNSW index of `dimension` and `distance` unless it exists; True when
    this call created it. Dimensions pgvector cannot index (over 2,000) are left to exact scans.

    Serialised by an advisory lock, so that two ingestions of a new dimension do not race on the
    index's name; the existence check first keeps the common case free of the table lock that
    CREATE INDEX takes.
    """
    if distance not in HNSW_OPCLASSES:
        raise Invalid(f"unknown distance function {distance!r}: use one of {', '.join(DISTANCE_FUNCTIONS)}")
    if not 0 < dimension <= HNSW_MAX_DIMENSIONS or hnsw_index_exists(dimension, distance):
        return False
    name = hnsw_index_name(dimension, distance)
    # Called inside a caller's transaction (tests, a bulk load), rows written before it may still
    # owe their deferred foreign-key checks, and CREATE INDEX refuses "pending trigger events": run
    # those checks now, then defer again (Django's foreign keys are all INITIALLY DEFERRED).
    nested = connection.in_atomic_block
    with transaction.atomic():
        advisory_xact_lock(f"rag.hnsw.{name}")
        if hnsw_index_exists(dimension, distance):
            return False
        with connection.cursor() as cursor:
            if nested:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            # Integers and names from fixed tables only: nothing here comes from a client.
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON rag_chunk USING hnsw "
                f"((embedding::vector({int(dimension)})) {HNSW_OPCLASSES[distance]}) WHERE dimension = {int(dimension)}"
            )
            if nested:
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    logger.info("created HNSW index %s", name)
    return True
