"""One search of a database: the hits, the shared context of a query (database row, metric,
filters, threshold, embedder), the SQL of the vector and full-text queries, and metadata filters."""

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from apps.core.errors import Unavailable, Unprocessable
from apps.rag import embedding
from apps.rag.models import Chunk, Database, Document
from apps.rag.retrieval.schemas import FTS_CONFIG, OPERATORS

# --- hits and the search context -----------------------------------------------------------------


@dataclass
class Hit:
    """One chunk found: `similarity` under the query's metric, `keyword` its full-text rank (0..1,
    when the search asked for it), `score` what its strategy ranks by, `extra` the strategy's facts."""

    chunk_id: int
    document_id: str  # the file's SHA-256: what the dataset API and citations name a document by
    text: str
    metadata: dict
    similarity: float
    keyword: float = 0.0
    score: float = 0.0
    extra: dict = field(default_factory=dict)

    def scored(self, score: float, **extra: Any) -> "Hit":
        return Hit(
            chunk_id=self.chunk_id,
            document_id=self.document_id,
            text=self.text,
            metadata=self.metadata,
            similarity=self.similarity,
            keyword=self.keyword,
            score=score,
            extra={**self.extra, **extra},
        )


@dataclass
class Search:
    """What every strategy of one query shares: the database row, the query, the metric, the
    request's pre-filters and similarity threshold, and the embedder (vectors cached per text)."""

    db: Database
    query: str
    metric: str
    filters: dict
    threshold: float | None
    embedder: embedding.Embedder
    metric_from_request: bool = False
    _vectors: dict[str, list[float]] = field(default_factory=dict)

    def vectors(self, texts: list[str]) -> list[list[float]]:
        """Query embeddings by the database's embedder (one batch for the texts not seen yet).
        Unavailable (503) when the embedder cannot answer; 422 when its dimension is not the
        database's (its embedding strategy changed since ingestion)."""
        missing = [text for text in dict.fromkeys(texts) if text not in self._vectors]
        if missing:
            try:
                got = embedding.embed_texts(self.embedder, missing, attempts=1)
            except embedding.EmbeddingFailed as error:
                raise Unavailable(f"cannot embed the query: {error.reason}") from None
            for text, vector in zip(missing, got, strict=True):
                if len(vector) != self.db.dimension:
                    raise Unprocessable(
                        f"the query embedding ({self.embedder.describe()}) has {len(vector)} dimensions but database "
                        f"{self.db.name!r} holds {self.db.dimension}-dimensional vectors: re-process its datasets "
                        "with the current embedding strategy",
                        field="database",
                    )
                self._vectors[text] = vector
        return [self._vectors[text] for text in texts]


# --- SQL -----------------------------------------------------------------------------------------

# The metadata a filter sees and a result carries: the document's, then the chunk's (which names
# the file, page, heading, offsets, dataset and document_id).
_META = "(d.metadata || c.metadata)"


def _similarity_sql(metric: str, distance: str) -> str:
    if metric == "cosine":
        return f"1 - ({distance})"
    if metric == "ip":
        return f"-({distance})"  # pgvector's <#> is the negative inner product
    return f"1 / (1 + ({distance}))"


def _filter_sql(filters: dict) -> tuple[str, list]:
    """SQL conditions (AND-ed, leading " AND ") and their parameters for checked `filters`."""
    parts: list[str] = []
    params: list[Any] = []
    value = f"{_META} -> %s"
    for key, condition in filters.items():
        parts.append(f"{_META} ? %s")
        params.append(key)
        operators = (
            condition if isinstance(condition, dict) else {"$in" if isinstance(condition, list) else "$eq": condition}
        )
        for op, operand in operators.items():
            if op in ("$in", "$nin"):
                negate = "NOT " if op == "$nin" else ""
                parts.append(f"{negate}({value} IN (SELECT jsonb_array_elements(%s::jsonb)))")
                params += [key, json.dumps(operand)]
            elif op in ("$eq", "$ne"):
                parts.append(f"{value} {'=' if op == '$eq' else '<>'} %s::jsonb")
                params += [key, json.dumps(operand)]
            else:
                sql_op = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
                parts.append(f"jsonb_typeof({value}) = jsonb_typeof(%s::jsonb) AND {value} {sql_op} %s::jsonb")
                params += [key, json.dumps(operand), key, json.dumps(operand)]
    return "".join(f" AND ({part})" for part in parts), params


def tsquery_for(query: str) -> str:
    """The tsquery text of `query`: websearch syntax as Postgres reads it; a plain question's terms
    OR-ed (websearch_to_tsquery ANDs them, and a question's words rarely all occur in one chunk)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT websearch_to_tsquery('{FTS_CONFIG}', %s)::text", [query])
        text = cursor.fetchone()[0]
    uses_syntax = '"' in query or re.search(r"(^|\s)-\w", query) or re.search(r"\bor\b", query, re.IGNORECASE)
    return text if uses_syntax else text.replace(" & ", " | ")


def select_sql(
    *,
    db: Database,
    metric: str,
    vector: list[float],
    limit: int,
    filters: dict | None = None,
    tsquery: str | None = None,
    by_keyword: bool = False,
) -> tuple[str, list[Any]]:
    """The SQL and parameters of one search of `db`: the `limit` chunks nearest to `vector` under
    `metric` (or, `by_keyword`, those best matching `tsquery`), each with its file hash, text,
    metadata, similarity and keyword rank (0 without `tsquery`).

    The vector order uses the HNSW partial index's exact cast and condition (`embedding::vector(d)
    <op> %s::vector(d) … WHERE dimension = d`); `filters` (checked) become SQL conditions.
    """
    dim = int(db.dimension)
    literal = "[" + ",".join(repr(float(x)) for x in vector) + "]"
    distance = f"c.embedding::vector({dim}) {OPERATORS[metric]} %s::vector({dim})"
    where_filters, filter_params = _filter_sql(filters or {})
    keyword = "ts_rank_cd(c.search_vector, %s::tsquery, 32)" if tsquery is not None else "0.0"
    sql = (
        f"SELECT c.id, d.file_hash, c.text, {_META}, {_similarity_sql(metric, distance)}, {keyword} "
        f"FROM {Chunk._meta.db_table} c JOIN {Document._meta.db_table} d ON d.id = c.document_id "
        f"WHERE c.database_id = %s AND c.dimension = {dim}"
    )
    params: list[Any] = [literal, *([tsquery] if tsquery is not None else []), db.pk]
    if by_keyword:
        sql += " AND c.search_vector @@ %s::tsquery"
        params.append(tsquery)
    sql += where_filters
    params += filter_params
    if by_keyword:
        sql += " ORDER BY 6 DESC, c.id LIMIT %s"
        params.append(limit)
    else:
        sql += f" ORDER BY {distance} LIMIT %s"
        params += [literal, limit]
    return sql, params


def search_settings(cursor: Any, *, limit: int, filtered: bool) -> None:
    """`hnsw.ef_search` from MODELYARD_RAG_EF_SEARCH (at least `limit`, else HNSW returns fewer), and
    pgvector's iterative scan when filters would otherwise leave fewer than `limit` rows; local to
    the transaction."""
    cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(max(settings.MODELYARD_RAG_EF_SEARCH, limit))])
    cursor.execute("SELECT set_config('hnsw.iterative_scan', %s, true)", ["relaxed_order" if filtered else "off"])


def hits_select(
    search: Search,
    *,
    limit: int,
    vector: list[float],
    filters: dict | None = None,
    tsquery: str | None = None,
    by_keyword: bool = False,
) -> list[Hit]:
    """`select_sql` run as Hits, most similar first (or best keyword match first, `by_keyword`),
    without those under the request's similarity threshold."""
    sql, params = select_sql(
        db=search.db,
        metric=search.metric,
        vector=vector,
        limit=limit,
        filters=filters,
        tsquery=tsquery,
        by_keyword=by_keyword,
    )
    with transaction.atomic(), connection.cursor() as cursor:
        search_settings(cursor, limit=limit, filtered=bool(filters))
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    hits = [
        Hit(
            chunk_id=row[0],
            document_id=row[1],
            text=row[2],
            metadata=row[3] if isinstance(row[3], dict) else json.loads(row[3]),
            similarity=float(row[4]),
            keyword=float(row[5]),
        )
        for row in rows
    ]
    if not by_keyword:  # relaxed_order may return neighbours slightly out of order
        hits.sort(key=lambda hit: -hit.similarity)
    if search.threshold is not None:
        hits = [hit for hit in hits if hit.similarity >= search.threshold]
    return hits


# --- metadata filters ----------------------------------------------------------------------------


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _same(a: Any, b: Any) -> bool:
    return _json_type(a) == _json_type(b) and a == b


def filters_match(metadata: dict, filters: dict) -> bool:
    """Whether `metadata` satisfies every filter, with the SQL pre-filter's semantics."""
    for key, condition in filters.items():
        if key not in metadata:
            return False
        value = metadata[key]
        operators = (
            condition if isinstance(condition, dict) else {"$in" if isinstance(condition, list) else "$eq": condition}
        )
        for op, operand in operators.items():
            if op == "$eq" and not _same(value, operand):
                return False
            if op == "$ne" and _same(value, operand):
                return False
            if op == "$in" and not any(_same(value, item) for item in operand):
                return False
            if op == "$nin" and any(_same(value, item) for item in operand):
                return False
            if op in ("$gt", "$gte", "$lt", "$lte"):
                if _json_type(value) != _json_type(operand) or _json_type(value) not in ("number", "str"):
                    return False
                if not {
                    "$gt": value > operand,
                    "$gte": value >= operand,
                    "$lt": value < operand,
                    "$lte": value <= operand,
                }[op]:
                    return False
    return True
