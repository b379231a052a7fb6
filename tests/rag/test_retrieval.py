"""Retrieval over a real corpus: h2's authored documents (Markdown, HTML, PDF, DOCX, CSV, XLSX, JSON,
text) ingested once per module with all-MiniLM-L6-v2 on the real model runtime (`manage.py runtime`,
registered as the `local` backend), questions phrased in other words than the documents, every
strategy, true hybrid search, metadata filters, and a cross-encoder rerank on a tiny BERT served by
the same runtime."""

import hashlib
import re
from collections.abc import Iterator

import httpx
import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone
from django_q.models import OrmQ

from apps.backends import routing
from apps.backends.local_runtime import local_runtime_register
from apps.backends.models import Backend, Pool, RegisteredModel
from apps.backends.tasks import sync_run
from apps.core.errors import NotFound, Unprocessable
from apps.core.models import Job
from apps.modelstore.models import LocalModel
from apps.rag import retrieval, services
from apps.rag.models import Chunk, Database
from tests.fakes import inference_models
from tests.fakes.servers import free_port, runtime_wait, start_runtime
from tests.inference.conftest import MINILM, put_in_store
from tests.rag.documents import QUESTIONS, corpus_build

SCOPE = "acme/retrieval"
RERANKER = "tiny/reranker"
PROCESSING = {"name": "everything", "parsers": [{"type": "auto", "config": {"chunk_size": 400, "chunk_overlap": 0}}]}
DATABASE = {
    "name": "corpus_db",
    "type": "ChromaStore",
    "config": {"collection_name": "corpus", "distance_function": "cosine"},
    "embedding_strategies": [{"name": "minilm", "type": "UniversalEmbedder", "config": {"model": MINILM}}],
    "retrieval_strategies": [
        {"name": "basic_search", "type": "BasicSimilarityStrategy", "config": {"top_k": 10}, "default": True},
        {
            "name": "post_filtered",
            "type": "MetadataFilteredStrategy",
            "config": {"filters": {"dataset": "knowledge"}, "filter_mode": "post", "fallback_multiplier": 2},
        },
        {"name": "expanded", "type": "MultiQueryStrategy", "config": {"num_queries": 3}},
        {
            "name": "cross_encoded",
            "type": "CrossEncoderRerankedStrategy",
            "config": {"model_name": RERANKER, "initial_k": 10},
        },
    ],
}


def query(text: str, **options) -> dict:
    return services.rag_query(scope=SCOPE, database=DATABASE, query=text, **options)


def hit_rate(k: int = 3, **options) -> float:
    hits = sum(
        expected in [result["metadata"]["filename"] for result in query(question, top_k=k, **options)["results"]]
        for question, expected in QUESTIONS
    )
    return hits / len(QUESTIONS)


# --- the corpus on the real runtime, once per module -------------------------------------------


@pytest.fixture(scope="module")
def corpus(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[dict]:
    """The CORPUS in `corpus_db` of SCOPE (dataset "knowledge"), embedded by MiniLM on a real runtime
    that also serves the tiny cross-encoder; the file hashes by name. Removed again afterwards."""
    root = tmp_path_factory.mktemp("retrieval")
    started_at = timezone.now()
    with django_db_blocker.unblock():
        queued_before = set(OrmQ.objects.values_list("id", flat=True))
        put_in_store(MINILM, inference_models.minilm_path())
        port = free_port()
        # The runtime starts (and loads MiniLM) while the tiny cross-encoder is built here.
        runtime = start_runtime(port, root / "runtime.log", keep_loaded=(MINILM,), wait=False)
        put_in_store(RERANKER, inference_models.build_rerank_model(root / "reranker"))
        runtime_wait(runtime, port, root / "runtime.log")
        settings_override = override_settings(MODELYARD_RUNTIME_PORT=port)
        settings_override.enable()
        try:
            local_runtime_register()
            sync_run()
            routing.routing_invalidate()
            routing.routing_health_reset()
            hashes = {}
            for filename, path in corpus_build(root / "corpus").items():
                file_hash = hashlib.sha256(path.read_bytes()).hexdigest()
                outcome = services.document_ingest(
                    scope=SCOPE,
                    database=DATABASE,
                    strategy=PROCESSING,
                    path=path,
                    filename=filename,
                    file_hash=file_hash,
                    dataset="knowledge",
                )
                assert outcome.status == "processed", (filename, outcome.reason)
                hashes[filename] = file_hash
            yield {"hashes": hashes, "runtime_url": f"http://127.0.0.1:{port}"}
        finally:
            runtime.kill()  # nothing of its own to save; its database connections are ended with the test database
            runtime.wait(timeout=30)
            settings_override.disable()
            Database.objects.filter(scope=SCOPE).delete()
            Backend.objects.filter(type="local").delete()
            Pool.objects.filter(name="default").delete()
            RegisteredModel.objects.filter(model__in=[MINILM, RERANKER]).delete()
            LocalModel.objects.filter(model_id__in=[MINILM, RERANKER]).delete()
            # The sync that registration asked for: its job and its queued task.
            Job.objects.filter(created_at__gte=started_at).delete()
            OrmQ.objects.exclude(id__in=queued_before).delete()
            routing.routing_invalidate()


# --- quality over the question set --------------------------------------------------------------


@pytest.mark.ml
@pytest.mark.django_db
def test_basic_similarity_puts_the_right_document_in_the_top_3_for_at_least_90_percent_of_questions(corpus):
    assert hit_rate(retrieval_strategy="BasicSimilarityStrategy") >= 0.9


@pytest.mark.ml
@pytest.mark.django_db
def test_true_hybrid_search_is_at_least_as_good_as_basic_and_alpha_spans_keyword_to_vector(corpus):
    basic = hit_rate(retrieval_strategy="basic_search")

    assert hit_rate(retrieval_strategy="hybrid") >= basic
    # alpha 1 is vector only: basic's order; alpha 0 is keyword only: every hit shares a query term.
    text = "Which ancient Egyptian beacon was one of the wonders of the old world?"
    vector_only = query(text, hybrid_alpha=1.0)
    assert [r["chunk_id"] for r in vector_only["results"]] == [r["chunk_id"] for r in query(text)["results"]]
    keyword_only = query("lava eruption magma", hybrid_alpha=0.0)
    assert keyword_only["retrieval_strategy_used"] == "hybrid" and keyword_only["results"]
    assert all(re.search(r"lava|erupt|magma", r["content"], re.IGNORECASE) for r in keyword_only["results"])
    assert keyword_only["results"][0]["metadata"]["keyword_score"] > 0


@pytest.mark.ml
@pytest.mark.django_db
@pytest.mark.parametrize("strategy", ["RerankedStrategy", "HybridUniversalStrategy", "expanded"])
def test_every_llamafarm_strategy_with_its_defaults_finds_the_right_documents(corpus, strategy):
    assert hit_rate(retrieval_strategy=strategy) >= 0.8


@pytest.mark.ml
@pytest.mark.django_db
def test_query_expansion_searches_with_real_variations_of_the_question(corpus):
    body = query("How do foragers share with the hive where they found nectar?", query_expansion=True)

    assert body["retrieval_strategy_used"] == "expanded"
    assert body["results"][0]["metadata"]["filename"] == "bees.docx"
    assert body["results"][0]["metadata"]["query_variations"] == 3
    off = query(
        "How do foragers share with the hive where they found nectar?",
        retrieval_strategy="expanded",
        query_expansion=False,
    )
    assert {r["metadata"]["query_variations"] for r in off["results"]} == {1}


# --- filters, thresholds, metrics, token budget ----------------------------------------------------


@pytest.mark.ml
@pytest.mark.django_db
def test_metadata_filters_before_the_search_keep_only_matching_chunks_and_still_fill_top_k(corpus):
    text = "How hot should the water be when I make a cup from unoxidised leaves?"

    only_bees = query(text, top_k=3, metadata_filters={"filename": "bees.docx"})
    not_tea = query(text, top_k=5, metadata_filters={"filename": {"$nin": ["tea.html", "volcanoes.md"]}})
    pages = query(text, top_k=5, metadata_filters={"page": {"$gte": 2}})

    assert [r["metadata"]["filename"] for r in only_bees["results"]] == ["bees.docx"] * 3
    assert len(not_tea["results"]) == 5
    assert not {r["metadata"]["filename"] for r in not_tea["results"]} & {"tea.html", "volcanoes.md"}
    assert pages["results"] and all(r["metadata"]["page"] >= 2 for r in pages["results"])
    assert {r["metadata"]["filename"] for r in pages["results"]} == {"rail_signalling.pdf"}  # the only paged file


@pytest.mark.ml
@pytest.mark.django_db
def test_post_filtering_filters_the_candidates_the_search_found(corpus):
    text = "How hot should the water be when I make a cup from unoxidised leaves?"

    post = query(text, top_k=4, retrieval_strategy="post_filtered", metadata_filters={"filename": "tea.html"})
    pre = query(
        text, top_k=4, retrieval_strategy="MetadataFilteredStrategy", metadata_filters={"filename": "lighthouses.json"}
    )
    post_rare = query(
        text, top_k=4, retrieval_strategy="post_filtered", metadata_filters={"filename": "lighthouses.json"}
    )

    assert post["results"] and {r["metadata"]["filename"] for r in post["results"]} == {"tea.html"}
    assert {r["metadata"]["filtering_method"] for r in post["results"]} == {"post"}
    # Pre-filtering finds the lighthouse chunks for a tea question; post-filtering only looks among
    # the 8 best candidates (top_k 4 x fallback_multiplier 2), where there are none.
    lighthouse_chunks = Chunk.objects.filter(document__file_hash=corpus["hashes"]["lighthouses.json"]).count()
    assert len(pre["results"]) == min(4, lighthouse_chunks) > 0
    assert {r["metadata"]["filename"] for r in pre["results"]} == {"lighthouses.json"}
    assert post_rare["results"] == []


@pytest.mark.ml
@pytest.mark.django_db
def test_score_threshold_cuts_results_below_that_similarity(corpus):
    text = "Where in Canada does the ocean rise and fall the most?"
    scores = [r["score"] for r in query(text, top_k=5)["results"]]
    threshold = (scores[1] + scores[2]) / 2

    cut = query(text, top_k=5, score_threshold=threshold)

    assert [r["score"] for r in cut["results"]] == scores[:2]
    assert query(text, score_threshold=1.01)["results"] == []


@pytest.mark.ml
@pytest.mark.django_db
def test_another_distance_metric_is_honoured_by_an_exact_scan_with_its_own_scores(corpus):
    text = "Which microbes make a naturally leavened loaf taste tangy?"
    cosine = query(text, top_k=3)["results"]

    l2 = query(text, top_k=3, distance_metric="euclidean")["results"]

    # MiniLM's vectors are normalised: the same order, and |a - b|² = 2 - 2 cos.
    assert [r["chunk_id"] for r in l2] == [r["chunk_id"] for r in cosine]
    for near, far in zip(l2, cosine, strict=True):
        distance = 1 / near["score"] - 1
        assert distance == pytest.approx((2 - 2 * far["score"]) ** 0.5, abs=1e-4)


@pytest.mark.ml
@pytest.mark.django_db
def test_max_tokens_keeps_results_in_order_until_the_budget_is_spent(corpus):
    text = "How many eggs can the mother of the hive produce in one day?"
    full = query(text, top_k=5)["results"]

    cut = query(text, top_k=5, max_tokens=60)["results"]

    tokens = [len(re.findall(r"\w+|[^\w\s]", r["content"])) for r in cut]
    assert sum(tokens) == 60
    assert [r["chunk_id"] for r in cut] == [r["chunk_id"] for r in full[: len(cut)]]
    assert cut[-1]["metadata"]["truncated_to_max_tokens"] is True
    assert full[len(cut) - 1]["content"].startswith(cut[-1]["content"])


# --- cross-encoder rerank through the runtime ----------------------------------------------------


@pytest.mark.ml
@pytest.mark.django_db
def test_rerank_model_reorders_candidates_by_the_runtimes_cross_encoder(corpus):
    text = "Who made a lens from rings of prisms for coastal lights?"
    candidates = query(text, top_k=30)["results"]  # the cross-encoder strategy's initial_k (LlamaFarm: 30)

    reranked = query(text, top_k=10, rerank_model=RERANKER)
    direct = httpx.post(
        f"{corpus['runtime_url']}/v1/rerank",
        json={"model": RERANKER, "query": text, "documents": [r["content"] for r in candidates]},
    ).json()["results"]

    assert reranked["retrieval_strategy_used"] == "CrossEncoderRerankedStrategy(basic_search)"
    results = reranked["results"]
    # The runtime's cross-encoder really scored them: its order and scores, not the similarity's.
    assert [r["chunk_id"] for r in results] == [candidates[item["index"]]["chunk_id"] for item in direct[:10]]
    assert [r["score"] for r in results] == pytest.approx([item["relevance_score"] for item in direct[:10]], abs=1e-5)
    assert [r["chunk_id"] for r in results] != [r["chunk_id"] for r in candidates[:10]]
    assert results[0]["metadata"]["reranker_model"] == RERANKER
    assert [r["metadata"]["rerank_position"] for r in results] == list(range(1, 11))
    assert {r["metadata"]["base_score"] for r in results} <= {r["score"] for r in candidates}


@pytest.mark.ml
@pytest.mark.django_db
def test_a_configured_cross_encoder_strategy_reranks_its_base_candidates(corpus):
    body = query(
        "Why do airlines keep their planes away from an erupting mountain?", retrieval_strategy="cross_encoded"
    )

    assert body["retrieval_strategy_used"] == "cross_encoded" and len(body["results"]) == 5
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert {r["metadata"]["reranker_model"] for r in body["results"]} == {RERANKER}


# --- citations and the index ----------------------------------------------------------------------


@pytest.mark.ml
@pytest.mark.django_db
def test_each_result_carries_what_a_citation_needs(corpus):
    body = query("How does the line know electrically that a locomotive is standing on a stretch of it?")

    assert body["database_used"] == "corpus_db" and body["retrieval_strategy_used"] == "basic_search"
    assert body["total_results"] == len(body["results"]) == 5 and body["processing_time_ms"] > 0
    first = body["results"][0]
    assert first["metadata"]["filename"] == "rail_signalling.pdf"
    assert first["document_id"] == first["metadata"]["document_id"] == corpus["hashes"]["rail_signalling.pdf"]
    assert first["chunk_id"] == first["metadata"]["chunk_id"]
    assert first["metadata"]["page"] in (1, 2, 3) and first["metadata"]["score"] == first["score"]
    for result in body["results"]:
        assert {"document_id", "filename", "page", "heading", "chunk_id", "score"} <= set(result["metadata"])
    markdown = query("What builds a wide, low-angled mountain out of fluid molten rock?", top_k=1)["results"][0]
    assert markdown["metadata"]["filename"] == "volcanoes.md" and markdown["metadata"]["heading"]


@pytest.mark.ml
@pytest.mark.django_db
def test_the_vector_query_uses_the_hnsw_partial_index_of_its_dimension(corpus):
    database = Database.objects.get(scope=SCOPE, name="corpus_db")
    sql, params = retrieval.select_sql(db=database, metric="cosine", vector=[0.05] * 384, limit=10)

    with transaction.atomic(), connection.cursor() as cursor:
        retrieval.search_settings(cursor, limit=10, filtered=False)
        cursor.execute("SET LOCAL enable_seqscan = off")  # a few dozen rows: the planner would just scan them
        # Nor fetch them by the database's btree and sort: what is checked is that the HNSW index fits
        # the query (dropped in this test's transaction only, so table statistics do not decide).
        cursor.execute("DROP INDEX rag_chunk_db_doc_idx")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert database.dimension == 384
    assert "Index Scan using rag_chunk_hnsw_cosine_384" in plan, plan
    assert "c.embedding::vector(384) <=> %s::vector(384)" in sql and "c.dimension = 384" in sql


# --- refusals (no model needed) ---------------------------------------------------------------------


def test_an_unknown_strategy_is_404_naming_the_valid_ones():
    with pytest.raises(NotFound) as error:
        query("anything", retrieval_strategy="SemanticMagicStrategy")

    assert "SemanticMagicStrategy" in error.value.message
    for valid in ("basic_search", "cross_encoded", "BasicSimilarityStrategy", "HybridSearchStrategy", "hybrid"):
        assert valid in error.value.message


def test_the_unknown_strategy_404_names_each_valid_name_once():
    database = {
        "name": "main",
        "retrieval_strategies": [
            {"name": "basic", "type": "BasicSimilarityStrategy"},
            {"name": "filtered", "type": "MetadataFilteredStrategy"},
        ],
    }
    with pytest.raises(NotFound) as error:
        retrieval._strategy_chosen(database, "nope")

    names = error.value.message.split("use one of ", 1)[1].split(", ")
    assert names.count("basic") == 1 and names.count("filtered") == 1
    assert names[:2] == ["basic", "filtered"] and "BasicSimilarityStrategy" in names


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"retrieval_strategy": "basic_search", "hybrid_alpha": 0.5}, "hybrid_alpha"),
        ({"hybrid_alpha": 1.5}, "hybrid_alpha"),
        ({"retrieval_strategy": "RerankedStrategy", "query_expansion": True}, "query_expansion"),
        ({"distance_metric": "hamming"}, "distance_metric"),
        ({"metadata_filters": {"page": {"$regex": "x"}}}, "metadata_filters"),
        ({"top_k": 0}, "top_k"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"rerank_model": ""}, "rerank_model"),
    ],
)
def test_a_field_the_strategy_cannot_honour_is_422_naming_it(options, field):
    with pytest.raises(Unprocessable) as error:
        query("anything", **options)

    assert error.value.fields["field"] == field
    assert field in error.value.message


def test_a_strategy_config_llamafarms_schema_refuses_is_422_with_its_path():
    database = {
        **DATABASE,
        "retrieval_strategies": [{"name": "odd", "type": "RerankedStrategy", "config": {"initial_k": 3}}],
    }

    with pytest.raises(
        Unprocessable, match=r"retrieval strategy 'odd' config\.initial_k: 3 is less than the minimum of 10"
    ):
        services.rag_query(scope=SCOPE, database=database, query="anything", retrieval_strategy="odd")


def test_query_variations_are_the_query_its_content_words_and_its_statement_form():
    variations = retrieval.query_variations("How do you keep a bread culture alive between bakes?", 5)

    assert variations[:3] == [
        "How do you keep a bread culture alive between bakes?",
        "keep bread culture alive between bakes",
        "you keep a bread culture alive between bakes",
    ]


def test_post_filters_have_the_same_semantics_as_the_sql_ones():
    metadata = {"page": 2, "filename": "a.pdf", "verified": True}

    assert retrieval.filters_match(metadata, {"page": {"$gte": 2, "$lt": 3}, "filename": ["a.pdf", "b.pdf"]})
    assert not retrieval.filters_match(metadata, {"page": {"$gt": "1"}})  # no cross-type comparison
    assert not retrieval.filters_match(metadata, {"verified": 1})  # true is not 1 in JSON
    assert not retrieval.filters_match(metadata, {"heading": {"$ne": "x"}})  # a missing key never matches
