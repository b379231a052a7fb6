"""The runtime surface over HTTP (Django's client on the runtime port): OpenAI's shapes, rerank and
classify, and every error as OpenAI's error object."""

import asyncio
import gc
from pathlib import Path

import pytest

from apps.inference import services
from apps.inference.engines import CHAT
from apps.inference.engines.chat import ChatOptions
from apps.inference.residency import residency
from apps.modelstore.models import LocalModel
from tests.inference.conftest import sse_data

pytestmark = [pytest.mark.ml, pytest.mark.django_db]

HELLO = [{"role": "user", "content": "Alice sees the river"}]


def test_a_chat_completion_is_openais_object_with_usage(runtime_client, stored_tiny):
    stored_tiny("tiny/chat")

    response = runtime_client.post(
        "/v1/chat/completions", {"model": "tiny/chat", "messages": HELLO, "temperature": 0, "max_tokens": 8}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == "tiny/chat"
    [choice] = body["choices"]
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"]
    assert choice["finish_reason"] in {"stop", "length"}
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and 0 < usage["completion_tokens"] <= 8
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_a_streamed_chat_sends_role_text_finish_usage_and_done(runtime_client, stored_tiny):
    stored_tiny("tiny/chat")
    request = {"model": "tiny/chat", "messages": HELLO, "temperature": 0, "max_tokens": 8}
    whole = runtime_client.post("/v1/chat/completions", request).json()["choices"][0]["message"]["content"]

    response = runtime_client.post(
        "/v1/chat/completions", {**request, "stream": True, "stream_options": {"include_usage": True}}
    )

    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    *chunks, usage_chunk, done = sse_data(response)
    assert done == "[DONE]"
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks) == whole
    assert chunks[-1]["choices"][0]["finish_reason"] in {"stop", "length"}
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["completion_tokens"] > 0
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}


def test_embeddings_report_the_dimension_and_warn_about_truncated_inputs(runtime_client, stored_tiny):
    stored_tiny("tiny/embedder")

    response = runtime_client.post(
        "/v1/embeddings", {"model": "tiny/embedder", "input": ["short", "Alice sees the river " * 10]}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["dimension"] == 32 and [item["index"] for item in body["data"]] == [0, 1]
    assert all(len(item["embedding"]) == 32 for item in body["data"])
    [warning] = body["warnings"]
    assert warning.startswith("input 1 has") and "at most 16" in warning


def test_rerank_and_classify_answer_their_shapes(runtime_client, stored_tiny):
    stored_tiny("tiny/reranker")
    stored_tiny("tiny/classifier")
    documents = ["Paris is in France", "bananas", "rivers flow"]

    reranked = runtime_client.post(
        "/v1/rerank", {"model": "tiny/reranker", "query": "France", "documents": documents, "top_n": 2}
    )
    classified = runtime_client.post("/v1/classify", {"model": "tiny/classifier", "texts": ["good", "bad"]})

    assert reranked.status_code == 200, reranked.content
    results = reranked.json()["results"]
    assert len(results) == 2 and all(documents[item["index"]] == item["document"] for item in results)
    assert classified.status_code == 200, classified.content
    assert [item["index"] for item in classified.json()["data"]] == [0, 1]
    assert classified.json()["data"][0]["label"] in {"negative", "neutral", "positive"}


def test_models_lists_the_servable_stored_models_with_kind_and_residency(runtime_client, stored_tiny, fresh_residency):
    stored_tiny("tiny/chat")
    stored_tiny("tiny/embedder")
    runtime_client.post("/v1/embeddings", {"model": "tiny/embedder", "input": "x"})

    response = runtime_client.get("/v1/models")

    assert response.status_code == 200
    models = {item["id"]: item for item in response.json()["data"]}
    assert (models["tiny/chat"]["kind"], models["tiny/chat"]["loaded"]) == ("chat", False)
    assert (models["tiny/embedder"]["kind"], models["tiny/embedder"]["loaded"]) == ("embedding", True)
    assert models["tiny/embedder"]["memory_bytes"] > 0 and models["tiny/chat"]["object"] == "model"


def test_health_answers_without_a_key(runtime_client, settings):
    settings.MODELYARD_ENV_API_KEYS = ["runtime-health-key-0123456789"]

    body = runtime_client.get("/health").json()

    assert body["status"] == "ok" and body["memory_budget_bytes"] > 0


# --- errors --------------------------------------------------------------------------------------


def test_a_model_not_in_the_store_is_404_telling_how_to_pull_it(runtime_client):
    response = runtime_client.post("/v1/chat/completions", {"model": "acme/absent", "messages": HELLO})

    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "model_not_found" and error["type"] == "not_found_error"
    assert "manage.py pull huggingface acme/absent" in error["message"]


def test_embedding_with_a_chat_model_is_400_naming_both_kinds(runtime_client, stored_tiny):
    stored_tiny("tiny/chat")

    response = runtime_client.post("/v1/embeddings", {"model": "tiny/chat", "input": "hello"})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "model 'tiny/chat' is a chat model; /v1/embeddings needs an embedding model"
    assert error["param"] == "model"


def test_invalid_input_is_openais_400(runtime_client):
    response = runtime_client.post("/v1/chat/completions", {"model": "x", "messages": [], "temperature": 3})

    assert response.status_code == 400
    error = response.json()["error"]
    assert (
        error["type"] == "invalid_request_error"
        and "messages" in error["message"]
        and "temperature" in error["message"]
    )


def test_a_model_that_fails_to_load_is_reported_and_not_retried_at_once(runtime_client, stored_tiny, fresh_residency):
    row = stored_tiny("tiny/chat")
    broken = LocalModel.objects.create(
        source="local", model_id="tiny/broken", path=row.path.replace("tiny/chat", "tiny/broken"), files=row.files
    )
    folder = Path(broken.path)
    folder.mkdir(parents=True, exist_ok=True)
    for name in row.files:
        (folder / name).write_bytes((Path(row.path) / name).read_bytes())
    (folder / "model.safetensors").write_bytes(b"not a safetensors file")
    body = {"model": "tiny/broken", "messages": HELLO, "max_tokens": 2}

    first = runtime_client.post("/v1/chat/completions", body)
    second = runtime_client.post("/v1/chat/completions", body)

    assert first.status_code == second.status_code == 500
    assert first.json()["error"]["message"].startswith("cannot load tiny/broken")
    assert second.json() == first.json()  # the remembered failure, not a second load


def test_a_busy_model_with_a_full_queue_is_503_with_retry_after(runtime_client, stored_tiny, settings, fresh_residency):
    stored_tiny("tiny/chat")
    settings.MODELYARD_RUNTIME_QUEUE_SIZE = 0
    model = services.model_resolve(model="tiny/chat", kind=CHAT)

    with residency().lease(model):
        response = runtime_client.post("/v1/chat/completions", {"model": "tiny/chat", "messages": HELLO})

    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
    assert "busy" in response.json()["error"]["message"]


def test_a_client_that_goes_away_mid_stream_stops_the_generation_and_frees_the_model(stored_tiny, fresh_residency):
    stored_tiny("tiny/chat")
    model = services.model_resolve(model="tiny/chat", kind=CHAT)
    stream = services.chat_stream_open(model=model, messages=HELLO, options=ChatOptions(max_tokens=200, temperature=0))

    async def read_two_chunks_then_leave() -> None:
        chunks = stream.chunks()
        await anext(chunks)
        await anext(chunks)
        await chunks.aclose()

    asyncio.run(read_two_chunks_then_leave())

    with residency().lease(model):  # free again: the generation thread ended and released it
        pass
    assert stream.generation.cancelled.is_set()
    assert 0 < stream.generation.usage.completion_tokens < 200


def test_unloading_a_model_frees_it_and_says_whether_it_was_loaded(runtime_client, stored_tiny, fresh_residency):
    stored_tiny("tiny/embedder")
    runtime_client.post("/v1/embeddings", {"model": "tiny/embedder", "input": "x"})

    first = runtime_client.post("/v1/models/unload", {"model": "tiny/embedder"})
    second = runtime_client.post("/v1/models/unload", {"model": "tiny/embedder"})
    absent = runtime_client.post("/v1/models/unload", {"model": "acme/absent"})

    assert first.json() == {"model": "tiny/embedder", "unloaded": True}
    assert second.json() == {"model": "tiny/embedder", "unloaded": False}
    assert absent.status_code == 404 and absent.json()["error"]["code"] == "model_not_found"
    assert residency().residents() == []


def test_a_stream_dropped_before_its_first_chunk_frees_the_model(stored_tiny, fresh_residency, settings):
    stored_tiny("tiny/chat")
    settings.MODELYARD_RUNTIME_QUEUE_WAIT_S = 1
    model = services.model_resolve(model="tiny/chat", kind=CHAT)
    stream = services.chat_stream_open(model=model, messages=HELLO, options=ChatOptions(max_tokens=5, temperature=0))

    del stream  # never iterated: the response was never sent
    gc.collect()

    with residency().lease(model):  # would be Busy after 1 s if the model were still held
        pass
