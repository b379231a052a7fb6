"""The retrieval strategies' names and their configs: LlamaFarm's parameters and defaults (its
`rag/schema.yaml` and retriever components), one JSON Schema per strategy type, so an unknown or
out-of-range parameter is a 422 naming its path."""

from typing import Any

import jsonschema

from apps.core.errors import Unprocessable
from apps.rag import storage

BASIC = "BasicSimilarityStrategy"
FILTERED = "MetadataFilteredStrategy"
MULTI_QUERY = "MultiQueryStrategy"
RERANKED = "RerankedStrategy"
CROSS_ENCODER = "CrossEncoderRerankedStrategy"
HYBRID_UNIVERSAL = "HybridUniversalStrategy"
HYBRID_SEARCH = "HybridSearchStrategy"
STRATEGY_TYPES: tuple[str, ...] = (
    BASIC,
    FILTERED,
    MULTI_QUERY,
    RERANKED,
    CROSS_ENCODER,
    HYBRID_UNIVERSAL,
    HYBRID_SEARCH,
)
# Names a request may use for a type; LlamaFarm's hybrid accepts the short ones for its sub-strategies.
ALIASES = {
    "hybrid": HYBRID_SEARCH,
    "basic": BASIC,
    "filtered": FILTERED,
    "multi_query": MULTI_QUERY,
    "reranked": RERANKED,
}
# Distance functions a query may name (the database's three, LlamaFarm's names, and manhattan = L1).
METRICS = {**storage.DISTANCE_SYNONYMS, "manhattan": "l1", "l1": "l1"}
OPERATORS = {**storage.DISTANCE_OPERATORS, "l1": "<+>"}
FILTER_OPERATORS = ("$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte")
RRF_K = 60  # reciprocal rank fusion's constant, as LlamaFarm and the literature use it
FTS_CONFIG = "english"  # the text search configuration `Chunk.search_vector` is generated with
MAX_TOP_K = 1000

_METRIC = {"type": ["string", "null"], "enum": [*sorted(METRICS), None], "default": None}
_TOP_K = {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K, "default": 10}
_SCALAR = {"type": ["string", "number", "boolean"]}
_FILTERS = {
    "type": "object",
    "default": {},
    "additionalProperties": {
        "oneOf": [
            _SCALAR,
            {"type": "array", "items": _SCALAR},
            {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": False,
                "properties": {
                    op: ({"type": "array", "items": _SCALAR} if op in ("$in", "$nin") else _SCALAR)
                    for op in FILTER_OPERATORS
                },
            },
        ]
    },
}
_SUB_TYPES = [t for t in STRATEGY_TYPES if t != HYBRID_UNIVERSAL] + [a for a in ALIASES if a != "hybrid"] + ["hybrid"]
# One JSON Schema per strategy type: LlamaFarm's parameters and defaults (+ ours where noted).
SCHEMAS: dict[str, dict] = {
    BASIC: {
        "properties": {
            "top_k": _TOP_K,
            "distance_metric": _METRIC,
            "score_threshold": {"type": ["number", "null"], "default": None},
        }
    },
    FILTERED: {
        "properties": {
            "top_k": _TOP_K,
            "filters": _FILTERS,
            "filter_mode": {"enum": ["pre", "post"], "default": "pre"},
            "fallback_multiplier": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
            "distance_metric": _METRIC,
        }
    },
    MULTI_QUERY: {
        "properties": {
            "num_queries": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
            "top_k": _TOP_K,
            "aggregation_method": {"enum": ["max", "mean", "weighted", "reciprocal_rank"], "default": "weighted"},
            "query_weights": {
                "type": ["array", "null"],
                "items": {"type": "number", "minimum": 0, "maximum": 1},
                "default": None,
            },
            "search_multiplier": {"type": "integer", "minimum": 1, "maximum": 10, "default": 2},
            "distance_metric": _METRIC,
        }
    },
    RERANKED: {
        "properties": {
            "top_k": _TOP_K,
            "initial_k": {"type": "integer", "minimum": 10, "maximum": 1000, "default": 30},
            "final_k": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
            "rerank_factors": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    name: {"type": "number", "minimum": 0, "maximum": 1}
                    for name in ("similarity_weight", "recency_weight", "length_weight", "metadata_weight")
                },
                "default": {},
            },
            "normalize_scores": {"type": "boolean", "default": True},
            "length_normalization": {"type": "integer", "minimum": 1, "default": 1000},
            "distance_metric": _METRIC,
        }
    },
    CROSS_ENCODER: {
        "required": ["model_name"],
        "properties": {
            "top_k": _TOP_K,
            "model_name": {"type": "string", "minLength": 1},
            "initial_k": {"type": "integer", "minimum": 10, "maximum": 100, "default": 30},
            "final_k": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
            "base_strategy": {"enum": [t for t in [*STRATEGY_TYPES, *ALIASES] if t != CROSS_ENCODER], "default": BASIC},
            "base_strategy_config": {"type": "object", "default": {}},
            "relevance_threshold": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.0},
        },
    },
    HYBRID_UNIVERSAL: {
        "properties": {
            "top_k": _TOP_K,
            "strategies": {
                "type": "array",
                "minItems": 2,
                "maxItems": 5,
                "items": {
                    "type": "object",
                    "required": ["type"],
                    "additionalProperties": False,
                    "properties": {
                        "type": {"enum": _SUB_TYPES},
                        "weight": {"type": "number", "minimum": 0, "maximum": 1, "default": 1.0},
                        "config": {"type": "object", "default": {}},
                    },
                },
                "default": [{"type": BASIC, "weight": 0.6}, {"type": FILTERED, "weight": 0.4}],
            },
            "combination_method": {
                "enum": ["weighted_average", "rank_fusion", "score_fusion"],
                "default": "weighted_average",
            },
            "final_k": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10},
        }
    },
    HYBRID_SEARCH: {
        "properties": {
            "top_k": _TOP_K,
            "candidate_k": {"type": "integer", "minimum": 10, "maximum": 1000, "default": 50},
            "rrf_k": {"type": "integer", "minimum": 1, "maximum": 1000, "default": RRF_K},
            "alpha": {"type": ["number", "null"], "minimum": 0, "maximum": 1, "default": None},
            "distance_metric": _METRIC,
        }
    },
}
RERANK_FACTOR_DEFAULTS = {"similarity_weight": 0.7, "recency_weight": 0.1, "length_weight": 0.1, "metadata_weight": 0.1}


def strategy_config_checked(type: str, config: Any, where: str) -> dict:
    """`config` validated by the type's JSON Schema, defaults filled in; 422 naming `where` and the path."""
    schema = {"type": "object", "additionalProperties": False, **SCHEMAS[type]}
    try:
        jsonschema.validate(config if config is not None else {}, schema)
    except jsonschema.ValidationError as error:
        path = ".".join(str(p) for p in error.absolute_path)
        raise Unprocessable(f"{where}{'.' + path if path else ''}: {error.message}", field=where) from None
    defaults = {name: prop["default"] for name, prop in schema["properties"].items() if "default" in prop}
    return {**defaults, **(config or {})}


def filters_checked(filters: Any, where: str) -> dict:
    try:
        jsonschema.validate(filters, _FILTERS)
    except jsonschema.ValidationError as error:
        path = "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in error.absolute_path)
        operators = ", ".join(FILTER_OPERATORS)
        raise Unprocessable(
            f"{where}{path}: {error.message} (a filter is a value, a list of values, or an object of operators "
            f"{operators})",
            field=where,
        ) from None
    return filters
