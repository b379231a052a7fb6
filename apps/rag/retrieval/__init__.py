"""Retrieval: a query against one RAG database, by one of LlamaFarm's strategies or true hybrid search.

`rag_query` answers the spec's `POST …/rag/query` shape. Strategies (names, parameters and defaults
from LlamaFarm's `rag/schema.yaml` and retriever components; each config is validated by a JSON
Schema, so an unknown or out-of-range parameter is a 422 naming it):

- `BasicSimilarityStrategy`: the `top_k` nearest chunks by the database's distance.
- `MetadataFilteredStrategy`: the same with `filters` (merged with the request's `metadata_filters`),
  applied before the search (`filter_mode: pre`, in SQL) or after it (`post`: `top_k ×
  fallback_multiplier` candidates, filtered, cut to `top_k`). A filter value is an equality, a list
  ("in"), or an object of operators `$ne $in $nin $gt $gte $lt $lte`; a chunk lacking the key never
  matches; comparisons only match values of the same JSON type.
- `MultiQueryStrategy`: `num_queries` variations of the query, each searched for `top_k ×
  search_multiplier`, scores aggregated by `aggregation_method` (max, mean, weighted — LlamaFarm's
  1/(i+1) weights or `query_weights` — or reciprocal_rank). LlamaFarm's strategy asks no LLM (it
  takes pre-computed variations or repeats the query); here the variations are deterministic and
  real: the query itself, its content words only, and its interrogative opener removed, then its
  clauses (split on "and", ";", "?") — each embedded, so each searches a different neighbourhood.
- `RerankedStrategy`: `initial_k` candidates re-scored by `rerank_factors` (similarity, recency of
  a `timestamp`/`date` in the metadata, content length, metadata signals: priority, type,
  category, verified, expert_reviewed, view_count), similarity min-max normalised first when
  `normalize_scores`.
- `CrossEncoderRerankedStrategy`: `initial_k` candidates of `base_strategy` scored by the cross-encoder
  `model_name` on the model runtime's `/v1/rerank` (through `apps.backends.services.model_rerank`);
  the score is the cross-encoder's relevance (0..1, the runtime's sigmoid; LlamaFarm min-max
  normalises it, which makes the best hit 1.0 whatever it is); `relevance_threshold` cuts on it.
- `HybridUniversalStrategy`: 2–5 sub-strategies with weights, combined by weighted_average, rank_fusion
  (Σ weight / (60 + rank)) or score_fusion (min-max normalised scores, weighted sum).
- `HybridSearchStrategy` (beyond LlamaFarm, whose hybrid only fuses vector searches; the request may
  call it `hybrid`): pgvector similarity plus Postgres full-text search on the chunk's `search_vector`
  (GIN, `websearch_to_tsquery('english', …)`), fused by reciprocal rank (k = `rrf_k`, 60) or, with
  `alpha` / the request's `hybrid_alpha`, by `alpha × similarity + (1 − alpha) × keyword score`
  (keyword score: `ts_rank_cd`, divided by the best one among the candidates), 0 = keyword only,
  1 = vector only. A plain question (no quotes, `or`, or `-word`) has its terms OR-ed: the AND of
  every word of a question rarely occurs in one chunk.

Scores: `similarity` is 1 − cosine distance for cosine, the inner product for ip, 1 / (1 + distance)
for l2 and manhattan; a result's `score` is its strategy's score (similarity, fused, re-ranked or
cross-encoder relevance); `score_threshold` is always the minimum **similarity** (the spec's
"minimum similarity score"), applied to every candidate before fusion or re-ranking.

`retrieval_strategy` names one of the database's `retrieval_strategies[]`, a strategy type, or an
alias (`hybrid`, `basic`, `filtered`, `multi_query`, `reranked`); anything else is a 404 naming them.
A cross-encoder's `model_name` is a model as the backends route it (e.g. a rerank model in the model
store, served by the runtime); LlamaFarm's `timeout` is not taken (calls use MODELYARD_BACKEND_TIMEOUT).

Request fields are all honoured or refused (422 naming the field): `distance_metric` other than the
database's is honoured (by that distance's HNSW index where one exists for the dimension, else by an
exact scan); `manhattan` (L1) always by an exact scan; `hybrid_alpha` asks for
hybrid search (422 with another named strategy); `query_expansion` true asks for MultiQuery (422 with
another named strategy), false runs MultiQuery with one query; `rerank_model` re-ranks the chosen
strategy's candidates with that cross-encoder; `max_tokens` keeps results, in order, until their
content reaches that many tokens (words and punctuation marks, the last one cut at a token boundary).
"""

import re
import time
from typing import Any

from apps.core.errors import NotFound, Unprocessable
from apps.rag import embedding
from apps.rag.models import Database
from apps.rag.retrieval.schemas import (
    ALIASES,
    BASIC,
    CROSS_ENCODER,
    HYBRID_SEARCH,
    MAX_TOP_K,
    METRICS,
    MULTI_QUERY,
    STRATEGY_TYPES,
    filters_checked,
    strategy_config_checked,
)
from apps.rag.retrieval.search import Hit, Search, filters_match, search_settings, select_sql
from apps.rag.retrieval.strategies import query_variations, run_strategy

__all__ = [
    "STRATEGY_TYPES",
    "filters_match",
    "query_variations",
    "rag_query",
    "search_settings",
    "select_sql",
]

# --- the query ------------------------------------------------------------------------------------


def _strategy_chosen(database: dict, requested: str | None) -> tuple[str, str, dict, bool]:
    """(name used, type, raw config, named by the request) of the strategy a query runs.

    `requested` may be a configured strategy's name, a strategy type, or an alias (`hybrid`…); none:
    the database's `default_retrieval_strategy`, else the one marked `default`, else the first, else
    BasicSimilarityStrategy. NotFound (404) naming the valid names for an unknown one.
    """
    configured = [entry for entry in database.get("retrieval_strategies") or [] if isinstance(entry, dict)]
    by_name = {str(entry.get("name")): entry for entry in configured if entry.get("name")}
    if requested is None:
        default = database.get("default_retrieval_strategy")
        if default and default not in by_name:
            raise Unprocessable(
                f"default_retrieval_strategy {default!r} of database {database.get('name')!r} names no retrieval "
                f"strategy (configured: {', '.join(by_name) or 'none'})",
                field="retrieval_strategy",
            )
        entry = (
            by_name.get(default)
            or next((e for e in configured if e.get("default")), None)
            or next(iter(configured), None)
        )
        if entry is None:
            return BASIC, BASIC, {}, False
    elif requested in by_name:
        entry = by_name[requested]
    elif requested in STRATEGY_TYPES or requested in ALIASES:
        return requested, ALIASES.get(requested, requested), {}, True
    else:
        valid = list(dict.fromkeys([*by_name, *STRATEGY_TYPES, *ALIASES]))  # a configured `basic` once
        raise NotFound(f"retrieval strategy {requested!r} not found: use one of {', '.join(valid)}")
    strategy_type = entry.get("type")
    strategy_type = ALIASES.get(strategy_type, strategy_type)
    if strategy_type not in STRATEGY_TYPES:
        raise Unprocessable(
            f"retrieval strategy {entry.get('name')!r} has type {strategy_type!r}, which this server cannot run: "
            f"use one of {', '.join(STRATEGY_TYPES)}",
            field="retrieval_strategy",
        )
    return str(entry["name"]), strategy_type, entry.get("config") or {}, requested is not None


def _tokens(text: str) -> list[re.Match]:
    return list(re.finditer(r"\w+|[^\w\s]", text))


def _within_tokens(hits: list[Hit], max_tokens: int) -> list[tuple[Hit, str]]:
    """Results in order until their content reaches `max_tokens`; the last one cut at a token boundary."""
    kept: list[tuple[Hit, str]] = []
    left = max_tokens
    for hit in hits:
        if left <= 0:
            break
        tokens = _tokens(hit.text)
        if len(tokens) <= left:
            kept.append((hit, hit.text))
            left -= len(tokens)
        else:
            kept.append((hit, hit.text[: tokens[left - 1].end()]))
            left = 0
    return kept


def _number(
    value: Any, field: str, *, low: float | None = None, high: float | None = None, integer: bool = False
) -> Any:
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if not ok or isinstance(value, bool) or (low is not None and value < low) or (high is not None and value > high):
        bounds = f" from {low} to {high}" if high is not None else f" ≥ {low}" if low is not None else ""
        raise Unprocessable(
            f"{field} must be {'an integer' if integer else 'a number'}{bounds}, not {value!r}", field=field
        )
    return value


def _options_check(
    *,
    query: Any,
    top_k: Any,
    score_threshold: Any,
    hybrid_alpha: Any,
    max_tokens: Any,
    query_expansion: Any,
    rerank_model: Any,
) -> None:
    """422 naming the first request field whose value is out of range or of the wrong type."""
    if not isinstance(query, str) or not query.strip():
        raise Unprocessable("query must be a non-empty string", field="query")
    if top_k is not None:
        _number(top_k, "top_k", low=1, high=MAX_TOP_K, integer=True)
    if score_threshold is not None:
        _number(score_threshold, "score_threshold")
    if hybrid_alpha is not None:
        _number(hybrid_alpha, "hybrid_alpha", low=0, high=1)
    if max_tokens is not None:
        _number(max_tokens, "max_tokens", low=1, integer=True)
    if query_expansion is not None and not isinstance(query_expansion, bool):
        raise Unprocessable(f"query_expansion must be true or false, not {query_expansion!r}", field="query_expansion")
    if rerank_model is not None and (not isinstance(rerank_model, str) or not rerank_model.strip()):
        raise Unprocessable("rerank_model must name a rerank model", field="rerank_model")


def _strategy_planned(
    database: dict,
    *,
    requested: str | None,
    hybrid_alpha: float | None,
    query_expansion: bool | None,
    rerank_model: str | None,
) -> tuple[str, str, dict]:
    """(name reported as used, type, checked config) of what a query runs: the chosen strategy, turned
    into hybrid search by `hybrid_alpha`, into MultiQuery by `query_expansion`, wrapped in a
    cross-encoder by `rerank_model` — or a 422 naming the field when a named strategy contradicts it."""
    used, strategy_type, raw_config, named = _strategy_chosen(database, requested)
    if hybrid_alpha is not None and strategy_type != HYBRID_SEARCH:
        if named:
            raise Unprocessable(
                f"hybrid_alpha applies to hybrid search ({HYBRID_SEARCH}, 'hybrid'), not to {used!r}",
                field="hybrid_alpha",
            )
        used, strategy_type, raw_config = "hybrid", HYBRID_SEARCH, {}
    if query_expansion and strategy_type != MULTI_QUERY:
        if named:
            raise Unprocessable(
                f"query_expansion is done by {MULTI_QUERY}, not by {used!r}: name it or leave retrieval_strategy out",
                field="query_expansion",
            )
        entries = [e for e in database.get("retrieval_strategies") or [] if isinstance(e, dict)]
        configured = next((e for e in entries if e.get("type") == MULTI_QUERY and e.get("name")), None)
        used, strategy_type = (str(configured["name"]) if configured else MULTI_QUERY), MULTI_QUERY
        raw_config = (configured or {}).get("config") or {}
    where = f"retrieval strategy {used!r} config"
    if rerank_model and strategy_type == CROSS_ENCODER:
        raw_config = {**raw_config, "model_name": rerank_model}
    config = strategy_config_checked(strategy_type, raw_config, where)
    if strategy_type == HYBRID_SEARCH and hybrid_alpha is not None:
        config["alpha"] = hybrid_alpha
    if strategy_type == MULTI_QUERY and query_expansion is False:
        config["num_queries"] = 1  # no expansion: the query alone
    if rerank_model and strategy_type != CROSS_ENCODER:  # re-rank the chosen strategy's candidates
        base_config = {key: value for key, value in config.items() if key != "top_k"}
        config = strategy_config_checked(
            CROSS_ENCODER,
            {"model_name": rerank_model, "base_strategy": strategy_type, "base_strategy_config": base_config},
            where,
        )
        used, strategy_type = f"{CROSS_ENCODER}({used})", CROSS_ENCODER
    return used, strategy_type, config


def rag_query(
    *,
    scope: str,
    database: dict,
    query: str,
    top_k: int | None = 5,
    score_threshold: float | None = None,
    retrieval_strategy: str | None = None,
    metadata_filters: dict | None = None,
    distance_metric: str | None = None,
    hybrid_alpha: float | None = None,
    rerank_model: str | None = None,
    query_expansion: bool | None = None,
    max_tokens: int | None = None,
) -> dict:
    """Query one database (`database` = its `rag.databases[]` config entry) of `scope`.

    Returns the spec's body: `{query, results: [{content, score, metadata, chunk_id, document_id}],
    total_results, processing_time_ms, retrieval_strategy_used, database_used}`; each result's
    metadata carries the citation: document_id (the file's SHA-256), filename, page, heading,
    chunk_id, score, similarity_score, and the strategy's facts. `top_k` None: the strategy's
    configured `top_k`. A database with nothing ingested yet answers no results.

    Raises NotFound (404) for an unknown strategy name (naming the valid ones); Unprocessable (422)
    naming the field for a value out of range, a field that contradicts the chosen strategy, or a
    strategy config LlamaFarm's schema refuses; Unavailable (503) when the embedder or reranker is down.
    """
    started = time.perf_counter()
    _options_check(
        query=query,
        top_k=top_k,
        score_threshold=score_threshold,
        hybrid_alpha=hybrid_alpha,
        max_tokens=max_tokens,
        query_expansion=query_expansion,
        rerank_model=rerank_model,
    )
    metric = None
    if distance_metric is not None:
        metric = METRICS.get(str(distance_metric).lower())
        if metric is None:
            raise Unprocessable(
                f"distance_metric {distance_metric!r} is not supported: use one of {', '.join(sorted(METRICS))}",
                field="distance_metric",
            )
    filters = filters_checked(metadata_filters, "metadata_filters") if metadata_filters is not None else {}
    used, strategy_type, config = _strategy_planned(
        database,
        requested=retrieval_strategy,
        hybrid_alpha=hybrid_alpha,
        query_expansion=query_expansion,
        rerank_model=rerank_model,
    )
    limit = top_k if top_k is not None else config.get("top_k", 5)

    db = Database.objects.filter(scope=scope, name=database.get("name")).first()
    results: list[tuple[Hit, str]] = []
    if db is not None and db.dimension:
        search = Search(
            db=db,
            query=query,
            metric=metric or db.distance_function,
            filters=filters,
            threshold=score_threshold,
            embedder=embedding.embedder_for(database),
            metric_from_request=metric is not None,
        )
        hits = run_strategy(search, strategy_type, config, limit)[:limit]
        results = _within_tokens(hits, max_tokens) if max_tokens is not None else [(hit, hit.text) for hit in hits]
    return {
        "query": query,
        "results": [_result(hit, content) for hit, content in results],
        "total_results": len(results),
        "processing_time_ms": round((time.perf_counter() - started) * 1000, 2),
        "retrieval_strategy_used": used,
        "database_used": database.get("name"),
    }


def _result(hit: Hit, content: str) -> dict:
    chunk_id = str(hit.chunk_id)
    metadata = {
        **hit.metadata,
        **hit.extra,
        "document_id": hit.document_id,
        "filename": hit.metadata.get("filename"),
        "page": hit.metadata.get("page"),
        "heading": hit.metadata.get("heading"),
        "chunk_id": chunk_id,
        "score": hit.score,
        "similarity_score": hit.similarity,
    }
    if content != hit.text:
        metadata["truncated_to_max_tokens"] = True
    return {
        "content": content,
        "score": hit.score,
        "metadata": metadata,
        "chunk_id": chunk_id,
        "document_id": hit.document_id,
    }
