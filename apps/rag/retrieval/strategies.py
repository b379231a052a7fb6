"""The strategies: each a function of (search, checked config, top_k) → hits, best first."""

import dataclasses
import math
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

from apps.backends import services as backends
from apps.rag.retrieval.schemas import (
    ALIASES,
    BASIC,
    CROSS_ENCODER,
    FILTERED,
    HYBRID_SEARCH,
    HYBRID_UNIVERSAL,
    METRICS,
    MULTI_QUERY,
    RERANK_FACTOR_DEFAULTS,
    RERANKED,
    RRF_K,
    strategy_config_checked,
)
from apps.rag.retrieval.search import Hit, Search, filters_match, hits_select, tsquery_for

# --- strategies ----------------------------------------------------------------------------------


def _basic(search: Search, config: dict, top_k: int) -> list[Hit]:
    threshold = config.get("score_threshold")
    hits = hits_select(search, limit=top_k, vector=search.vectors([search.query])[0], filters=search.filters)
    if threshold is not None and search.threshold is None:
        hits = [hit for hit in hits if hit.similarity >= threshold]
    return [hit.scored(hit.similarity) for hit in hits]


def _metadata_filtered(search: Search, config: dict, top_k: int) -> list[Hit]:
    filters = {**config["filters"], **search.filters}  # the config's, checked by its schema; the request's win
    vector = search.vectors([search.query])[0]
    if config["filter_mode"] == "pre" or not filters:
        hits = hits_select(search, limit=top_k, vector=vector, filters=filters)
        mode = "pre" if filters else "none"
    else:
        hits = hits_select(search, limit=top_k * config["fallback_multiplier"], vector=vector)
        hits = [hit for hit in hits if filters_match(hit.metadata, filters)][:top_k]
        mode = "post"
    return [hit.scored(hit.similarity, filtering_method=mode) for hit in hits]


STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with about from into over under as is are was were be been
    being do does did have has had i me my we our you your he she it its they them their this that these those
    what which who whom whose when where why how can could should would will shall may might must not no
    there here than then so such any all some more most other own same only very just also please tell""".split()
)
OPENERS = re.compile(
    r"^\s*(what|which|who|whom|whose|when|where|why|how)(\s+(is|are|was|were|do|does|did|can|could|should|would|"
    r"will|much|many|long|often))?\s+",
    re.IGNORECASE,
)


def query_variations(query: str, count: int) -> list[str]:
    """Up to `count` distinct variations of `query`, the query first: its content words only, the
    query without its interrogative opener, then its clauses (deterministic; see the module doc)."""
    words = re.findall(r"[\w'-]+", query)
    candidates = [
        query,
        " ".join(word for word in words if word.lower() not in STOPWORDS),
        OPENERS.sub("", query).rstrip(" ?"),
        *(part.strip() for part in re.split(r"\band\b|;|\?", query, flags=re.IGNORECASE)),
    ]
    variations: list[str] = []
    seen: set[str] = set()
    for text in candidates:
        key = " ".join(text.lower().split())
        if key and key not in seen:
            seen.add(key)
            variations.append(text.strip())
    return variations[:count]


def _multi_query(search: Search, config: dict, top_k: int) -> list[Hit]:
    variations = query_variations(search.query, config["num_queries"])
    vectors = search.vectors(variations)
    found: dict[int, list[tuple[int, int, float]]] = defaultdict(list)  # chunk -> [(query, rank, score)]
    hits: dict[int, Hit] = {}
    for index, vector in enumerate(vectors):
        for rank, hit in enumerate(
            hits_select(search, limit=top_k * config["search_multiplier"], vector=vector, filters=search.filters)
        ):
            found[hit.chunk_id].append((index, rank, hit.similarity))
            hits.setdefault(hit.chunk_id, hit)
    method, weights = config["aggregation_method"], config["query_weights"]
    scored = []
    for chunk_id, seen in found.items():
        scores = [score for _, _, score in seen]
        if method == "max":
            score = max(scores)
        elif method == "mean":
            score = sum(scores) / len(scores)
        elif method == "reciprocal_rank":
            score = sum(1.0 / (RRF_K + rank + 1) for _, rank, _ in seen)
        else:  # weighted: the given query weights, else LlamaFarm's 1/(i+1) by order of finding
            w = [weights[q] if weights and q < len(weights) else 1.0 / (i + 1) for i, (q, _, _) in enumerate(seen)]
            score = sum(s * x for s, x in zip(scores, w, strict=True)) / sum(w) if sum(w) > 0 else 0.0
        similarity = max(scores)
        hit = hits[chunk_id]
        hit.similarity = similarity
        scored.append(hit.scored(score, query_frequency=len(seen), query_variations=len(variations)))
    scored.sort(key=lambda hit: (-hit.score, -hit.similarity))
    return scored[:top_k]


def _recency(metadata: dict) -> float:
    """LlamaFarm's recency buckets for a `timestamp` (or `date`, `modified`) in the metadata."""
    stamp = next(
        (metadata[key] for key in ("timestamp", "date", "modified") if isinstance(metadata.get(key), str)), None
    )
    if stamp is None:
        return 0.0
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    age_days = (datetime.now(UTC) - (when if when.tzinfo else when.replace(tzinfo=UTC))).days
    for limit, boost in ((1, 1.0), (7, 0.8), (30, 0.5), (90, 0.2)):
        if age_days <= limit:
            return boost
    return 0.0


def _metadata_boost(metadata: dict) -> float:
    """LlamaFarm's metadata signals: priority, type, category, verified, expert review, views (≤ 1)."""

    def text(key: str) -> str:
        return str(metadata.get(key) or "").lower()

    boost = {"critical": 0.5, "high": 0.3, "medium": 0.1}.get(text("priority"), 0.0)
    kind = text("type")
    boost += (
        0.2 if kind in ("documentation", "tutorial", "guide") else 0.3 if kind in ("faq", "troubleshooting") else 0.0
    )
    boost += 0.1 if kind in ("policy", "procedure") else 0.0
    boost += 0.15 if text("category") in ("important", "featured", "recommended") else 0.0
    boost += 0.1 * (metadata.get("verified") is True) + 0.1 * (metadata.get("expert_reviewed") is True)
    views = metadata.get("view_count")
    if isinstance(views, int | float) and not isinstance(views, bool) and views > 0:
        boost += min(math.log10(views + 1) / 4, 0.2)
    return min(boost, 1.0)


def _reranked(search: Search, config: dict, top_k: int) -> list[Hit]:
    factors = {**RERANK_FACTOR_DEFAULTS, **config["rerank_factors"]}
    hits = hits_select(
        search, limit=max(config["initial_k"], top_k), vector=search.vectors([search.query])[0], filters=search.filters
    )
    low = min((hit.similarity for hit in hits), default=0.0)
    high = max((hit.similarity for hit in hits), default=0.0)
    scored = []
    for hit in hits:
        similarity = hit.similarity
        if config["normalize_scores"]:
            similarity = (similarity - low) / (high - low) if high > low else 1.0
        length = min(len(hit.text) / config["length_normalization"], 1.0)
        score = (
            factors["similarity_weight"] * similarity
            + factors["recency_weight"] * _recency(hit.metadata)
            + factors["length_weight"] * length
            + factors["metadata_weight"] * _metadata_boost(hit.metadata)
        )
        scored.append(hit.scored(score, base_similarity_score=hit.similarity))
    scored.sort(key=lambda hit: -hit.score)
    return scored[: min(top_k, config["final_k"])]


def _cross_encoder(search: Search, config: dict, top_k: int) -> list[Hit]:
    base_type = ALIASES.get(config["base_strategy"], config["base_strategy"])
    base_config = strategy_config_checked(base_type, config["base_strategy_config"], "base_strategy_config")
    candidates = run_strategy(search, base_type, base_config, max(config["initial_k"], top_k))
    if not candidates:
        return []
    model = config["model_name"]
    ranked, backend = backends.model_rerank(model=model, query=search.query, documents=[hit.text for hit in candidates])
    results = []
    for position, item in enumerate(ranked, start=1):
        if item.relevance_score < config["relevance_threshold"]:
            continue
        hit = candidates[item.index]
        results.append(
            hit.scored(
                item.relevance_score,
                reranker_score=item.relevance_score,
                rerank_position=position,
                reranker_model=model,
                reranker_backend=backend,
                base_score=hit.score,
            )
        )
    return results[: min(top_k, config["final_k"])]


def _hybrid_universal(search: Search, config: dict, top_k: int) -> list[Hit]:
    per_strategy: list[tuple[float, list[Hit]]] = []
    for index, sub in enumerate(config["strategies"]):
        sub_type = ALIASES.get(sub["type"], sub["type"])
        sub_config = strategy_config_checked(sub_type, sub.get("config") or {}, f"strategies.{index}.config")
        per_strategy.append((sub.get("weight", 1.0), run_strategy(search, sub_type, sub_config, top_k * 2)))
    method = config["combination_method"]
    total_weight = sum(weight for weight, _ in per_strategy) or 1.0
    combined: dict[int, float] = defaultdict(float)
    hits: dict[int, Hit] = {}
    for weight, results in per_strategy:
        low = min((hit.score for hit in results), default=0.0)
        high = max((hit.score for hit in results), default=0.0)
        for rank, hit in enumerate(results):
            hits.setdefault(hit.chunk_id, hit)
            if method == "rank_fusion":
                combined[hit.chunk_id] += weight / (RRF_K + rank)
            elif method == "score_fusion":
                combined[hit.chunk_id] += weight * ((hit.score - low) / (high - low) if high > low else 1.0)
            else:
                combined[hit.chunk_id] += weight * hit.score / total_weight
    ordered = sorted(combined.items(), key=lambda item: (-item[1], -hits[item[0]].similarity))
    return [hits[chunk_id].scored(score, combination_method=method) for chunk_id, score in ordered][
        : min(top_k, config["final_k"])
    ]


def _hybrid_search(search: Search, config: dict, top_k: int) -> list[Hit]:
    tsquery = tsquery_for(search.query)
    vector = search.vectors([search.query])[0]
    alpha = config["alpha"]
    limit = max(config["candidate_k"], top_k)
    by_vector = (
        [] if alpha == 0 else hits_select(search, limit=limit, vector=vector, filters=search.filters, tsquery=tsquery)
    )
    by_keyword = (
        []
        if alpha == 1
        else hits_select(search, limit=limit, vector=vector, filters=search.filters, tsquery=tsquery, by_keyword=True)
    )
    hits = {hit.chunk_id: hit for hit in [*by_keyword, *by_vector]}
    if alpha is None:  # reciprocal rank fusion
        fused: dict[int, float] = defaultdict(float)
        for results in (by_vector, by_keyword):
            for rank, hit in enumerate(results, start=1):
                fused[hit.chunk_id] += 1.0 / (config["rrf_k"] + rank)
    else:
        best_keyword = max((hit.keyword for hit in hits.values()), default=0.0)
        fused = {
            chunk_id: alpha * hit.similarity + (1 - alpha) * (hit.keyword / best_keyword if best_keyword else 0.0)
            for chunk_id, hit in hits.items()
        }
    ordered = sorted(fused.items(), key=lambda item: (-item[1], -hits[item[0]].similarity))
    return [
        hits[chunk_id].scored(score, keyword_score=hits[chunk_id].keyword, fusion="rrf" if alpha is None else "alpha")
        for chunk_id, score in ordered[:top_k]
    ]


RUNNERS: dict[str, Callable[[Search, dict, int], list[Hit]]] = {
    BASIC: _basic,
    FILTERED: _metadata_filtered,
    MULTI_QUERY: _multi_query,
    RERANKED: _reranked,
    CROSS_ENCODER: _cross_encoder,
    HYBRID_UNIVERSAL: _hybrid_universal,
    HYBRID_SEARCH: _hybrid_search,
}


def run_strategy(search: Search, type: str, config: dict, top_k: int) -> list[Hit]:
    """The hits of one strategy (its checked config) on `search`, best first, at most `top_k`."""
    named = config.get("distance_metric")
    if named and not search.metric_from_request:  # the request's distance_metric wins over a config's
        search = dataclasses.replace(search, metric=METRICS[named])
    return RUNNERS[type](search, config, top_k)
