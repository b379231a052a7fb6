"""The engines on tiny models built by fixtures and on the real models that packages ship."""

import threading
from pathlib import Path

import pytest

from apps.core.errors import Invalid
from apps.inference.engines import CHAT, CLASSIFY, EMBEDDING, RERANK
from apps.inference.engines.chat import CONVERTED_DIR, ChatEngine, ChatOptions
from apps.inference.engines.classify import ClassifyEngine
from apps.inference.engines.embeddings import EmbeddingEngine
from apps.inference.engines.rerank import RerankEngine
from apps.inference.kinds import model_kind
from apps.modelstore.layout import list_model_files
from tests.fakes import inference_models
from tests.inference.conftest import put_in_store

pytestmark = pytest.mark.ml

QUESTION = [{"role": "user", "content": "Alice sees the river"}]


def load(engine_class: type, folder: Path) -> object:
    return engine_class(folder=folder, files=list_model_files(folder))


@pytest.fixture(scope="module")
def chat(tiny_models: dict[str, Path]) -> ChatEngine:
    return load(ChatEngine, tiny_models["tiny/chat"])


@pytest.fixture(scope="module")
def embedder(tiny_models: dict[str, Path]) -> EmbeddingEngine:
    return load(EmbeddingEngine, tiny_models["tiny/embedder"])


# --- kinds ---------------------------------------------------------------------------------------


def test_each_tiny_model_is_recognised_as_its_kind(tiny_models):
    kinds = {model_id: model_kind(folder, list_model_files(folder)) for model_id, folder in tiny_models.items()}
    assert kinds == {
        "tiny/chat": CHAT,
        "tiny/thinker": CHAT,
        "tiny/embedder": EMBEDDING,
        "tiny/reranker": RERANK,
        "tiny/classifier": CLASSIFY,
    }


def test_a_gguf_folder_is_a_chat_model_and_a_seq2seq_model_is_no_kind(tmp_path):
    assert model_kind(tmp_path, ["model.Q4_K_M.gguf", "README.md"]) == CHAT
    (tmp_path / "config.json").write_text('{"architectures": ["T5ForConditionalGeneration"]}')
    assert model_kind(tmp_path, ["config.json", "model.safetensors"]) is None


# --- chat ----------------------------------------------------------------------------------------


def test_greedy_answers_are_repeatable_and_usage_counts_the_models_tokens(chat):
    options = ChatOptions(max_tokens=12, temperature=0)

    first, second = chat.chat(messages=QUESTION, options=options), chat.chat(messages=QUESTION, options=options)

    assert first.text() == second.text() != ""
    assert first.usage.prompt_tokens == len(chat.prompt_ids(QUESTION))
    assert 0 < first.usage.completion_tokens <= 12
    if first.usage.completion_tokens == 12:
        assert first.usage.finish_reason == "length"


def test_top_k_of_one_samples_the_greedy_answer_and_a_seed_repeats_a_sampled_one(chat):
    greedy = chat.chat(messages=QUESTION, options=ChatOptions(max_tokens=10, temperature=0)).text()
    top1 = chat.chat(messages=QUESTION, options=ChatOptions(max_tokens=10, temperature=1.5, top_k=1)).text()
    sampled = [
        chat.chat(messages=QUESTION, options=ChatOptions(max_tokens=16, temperature=2, seed=seed)).text()
        for seed in (7, 7, 8)
    ]

    assert top1 == greedy
    assert sampled[0] == sampled[1] != sampled[2]


def test_a_stop_string_ends_the_answer_just_before_it(chat):
    whole = chat.chat(messages=QUESTION, options=ChatOptions(max_tokens=24, temperature=0)).text()
    stop = whole[6:9]
    assert len(stop) == 3

    generation = chat.chat(messages=QUESTION, options=ChatOptions(max_tokens=24, temperature=0, stop=(stop, "never")))
    pieces = list(generation)

    assert "".join(pieces) == whole[: whole.find(stop)]
    assert generation.usage.finish_reason == "stop"


def test_streamed_pieces_join_to_the_whole_answer(chat):
    options = ChatOptions(max_tokens=20, temperature=0)
    pieces = list(chat.chat(messages=QUESTION, options=options))
    assert len(pieces) > 1
    assert "".join(pieces) == chat.chat(messages=QUESTION, options=options).text()


def test_cancelling_stops_the_generation_after_the_current_token(chat):
    cancelled = threading.Event()
    generation = chat.chat(messages=QUESTION, options=ChatOptions(max_tokens=200, temperature=0), cancelled=cancelled)

    iterator = iter(generation)
    next(iterator)
    cancelled.set()
    list(iterator)

    assert generation.usage.completion_tokens < 200


def test_a_prompt_past_the_context_is_invalid(chat):
    too_long = [{"role": "user", "content": "Alice sees the river. " * 200}]
    with pytest.raises(Invalid, match="context holds 256"):
        chat.chat(messages=too_long, options=ChatOptions(max_tokens=5, temperature=0))


@pytest.mark.django_db
def test_smollm2_gguf_is_converted_once_into_the_store_and_answers_paris():
    row = put_in_store(
        "HuggingFaceTB/SmolLM2-135M-Instruct", {inference_models.smollm2_gguf().name: inference_models.smollm2_gguf()}
    )
    folder = Path(row.path)

    engine = load(ChatEngine, folder)
    answer = engine.chat(
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        options=ChatOptions(max_tokens=20, temperature=0),
    ).text()

    assert "Paris" in answer
    converted = folder / CONVERTED_DIR / "SmolLM2-135M-Instruct.Q4_1"
    assert (converted / "config.json").is_file() and (converted / "model.safetensors").is_file()
    assert list_model_files(folder) == ["SmolLM2-135M-Instruct.Q4_1.gguf"]  # the cache is not one of the model's files


# --- embeddings ----------------------------------------------------------------------------------


def test_embeddings_are_batched_normalised_vectors_of_the_models_dimension(embedder):
    result = embedder.embed(texts=["Alice sees the river", "Bob counts the token"] * 40, batch_size=16)

    assert result.dimension == 32 and len(result.vectors) == 80
    assert all(abs(sum(x * x for x in vector) - 1) < 1e-4 for vector in result.vectors)
    assert result.vectors[0] == pytest.approx(result.vectors[2], abs=1e-6)
    assert result.warnings == []


def test_an_input_past_max_seq_length_is_truncated_with_a_warning_naming_it(embedder):
    long_text = "Alice sees the river " * 10

    result = embedder.embed(texts=["short", long_text])

    [warning] = result.warnings
    assert warning.startswith("input 1 has ") and "at most 16" in warning
    assert result.prompt_tokens == embedder.token_counts(["short"])[0] + 16


def test_asking_for_another_dimension_is_invalid(embedder):
    with pytest.raises(Invalid, match="32-dimensional"):
        embedder.embed(texts=["x"], dimensions=64)


def test_minilm_embeds_in_384_dimensions_and_warns_past_256_tokens():
    engine = load(EmbeddingEngine, inference_models.minilm_path())

    result = engine.embed(
        texts=[
            "The cat sits on the mat.",
            "A cat is sitting on a rug.",
            "Stock markets fell sharply today.",
            "word " * 300,
        ]
    )

    cat, kitten, markets = result.vectors[:3]
    similarity = lambda a, b: sum(x * y for x, y in zip(a, b, strict=True))  # noqa: E731  (normalised vectors)
    assert result.dimension == 384
    assert similarity(cat, kitten) > similarity(cat, markets) + 0.3
    assert result.warnings == ["input 3 has 302 tokens; the model reads at most 256, the last 46 were truncated"]


# --- rerank and classify -------------------------------------------------------------------------


def test_rerank_orders_documents_by_score_and_keeps_top_n(tiny_models):
    engine = load(RerankEngine, tiny_models["tiny/reranker"])
    documents = ["Paris is the capital of France", "bananas are yellow", "the cat sleeps", "rivers flow"]

    results = engine.rerank(query="capital of France", documents=documents, top_n=3)

    assert len(results) == 3
    scores = [item["relevance_score"] for item in results]
    assert scores == sorted(scores, reverse=True)
    assert all(documents[item["index"]] == item["document"] and 0 <= item["relevance_score"] <= 1 for item in results)


def test_classify_gives_the_configs_labels_with_probabilities(tiny_models):
    engine = load(ClassifyEngine, tiny_models["tiny/classifier"])

    results = engine.classify(texts=["good", "bad", "fine"])

    assert [item["index"] for item in results] == [0, 1, 2]
    for item in results:
        assert {score["label"] for score in item["scores"]} == set(inference_models.LABELS)
        assert sum(score["score"] for score in item["scores"]) == pytest.approx(1, abs=1e-5)
        assert (item["label"], item["score"]) == (item["scores"][0]["label"], item["scores"][0]["score"])
