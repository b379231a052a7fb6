"""Provider adapters against the fake backends: every method, streaming, and the error mapping."""

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from apps.backends.providers import PROVIDER_TYPES, provider_for
from apps.backends.providers.base import (
    ChatChunk,
    ProviderRequestError,
    ProviderUnavailable,
    PulledModel,
    PullProgress,
)
from apps.backends.providers.local import LocalProvider
from apps.backends.providers.ollama import OllamaProvider
from apps.backends.providers.openai import OpenAIProvider
from apps.backends.providers.vllm import VLLMProvider
from apps.core.errors import Invalid
from tests.fakes.backends_common import FakeModel, embedding_for, reply_text
from tests.fakes.servers import ROOT, free_port

USER_HI = [{"role": "user", "content": "hi there"}]


def run(provider, call):
    """Runs `call(provider)` on a fresh event loop and closes the adapter, as a worker would."""

    async def main():
        try:
            return await call(provider)
        finally:
            await provider.aclose()

    return asyncio.run(main())


async def collect(stream: AsyncIterator) -> list:
    return [item async for item in stream]


async def collect_until_error(stream: AsyncIterator) -> tuple[list, Exception]:
    items = []
    try:
        async for item in stream:
            items.append(item)
    except Exception as exc:  # noqa: BLE001 - the test asserts on it
        return items, exc
    raise AssertionError(f"the stream ended without an error after {items}")


def server_for(kind: str, fake_ollama, fake_openai, **options):
    if kind == "ollama":
        return fake_ollama(**options)
    return fake_openai(flavor="vllm" if kind == "vllm" else "openai", **options)


CHAT_MODEL = {"local": "gpt-4o-mini", "ollama": "llama3:8b", "openai": "gpt-4o-mini", "vllm": "gpt-4o-mini"}


# --- registry ------------------------------------------------------------------------------


def test_provider_for_builds_the_adapter_of_each_registered_type():
    expected = {"local": LocalProvider, "ollama": OllamaProvider, "openai": OpenAIProvider, "vllm": VLLMProvider}
    assert PROVIDER_TYPES == ("local", "ollama", "openai", "vllm")
    for kind, cls in expected.items():
        provider = provider_for(kind, base_url="http://127.0.0.1:9/", api_key="k", timeout_s=7)
        assert type(provider) is cls
        assert provider.type == kind
        assert provider.base_url == "http://127.0.0.1:9"
        assert provider.http.client.timeout.read == 7
        assert provider.http.client.timeout.connect == 5
        asyncio.run(provider.aclose())
        assert provider.http.client.is_closed


def test_provider_for_an_unknown_type_is_invalid():
    with pytest.raises(Invalid, match="unknown provider 'tgi': use one of local, ollama, openai, vllm"):
        provider_for("tgi", base_url="http://127.0.0.1:9")


def test_the_registry_imports_no_adapter_until_one_is_asked_for():
    code = (
        "import sys, apps.backends.providers as p; "
        "print(sorted(m for m in sys.modules if m.startswith('apps.backends.providers.')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['apps.backends.providers.base']"


# --- ollama --------------------------------------------------------------------------------


def test_ollama_lists_models_with_capabilities_context_length_size_digest_and_date(fake_ollama):
    chat = FakeModel(name="llama3:8b", context_length=8192, size=4_661_224_676)
    embed = FakeModel.embedding("nomic-embed-text", context_length=2048)
    server = fake_ollama(models=[chat, embed])

    models = run(OllamaProvider(base_url=server.url), lambda p: p.list_models())

    by_name = {model.name: model for model in models}
    assert set(by_name) == {"llama3:8b", "nomic-embed-text:latest"}
    llama = by_name["llama3:8b"]
    assert (llama.can_chat, llama.can_prompt, llama.can_stream, llama.can_embed) == (True, True, True, False)
    assert llama.context_length == 8192
    assert llama.size == 4_661_224_676
    assert llama.digest == f"sha256:{chat.digest}"
    assert llama.modified_at == datetime(2024, 5, 1, 10, 20, 30, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert llama.details["family"] == "llama"
    assert llama.details["quantization_level"] == "Q4_0"
    assert llama.details["capabilities"] == ["completion", "tools"]
    nomic = by_name["nomic-embed-text:latest"]
    assert (nomic.can_chat, nomic.can_prompt, nomic.can_stream, nomic.can_embed) == (False, False, False, True)
    assert nomic.context_length == 2048
    assert [r.json["model"] for r in server.requests_to("/api/show")] == ["llama3:8b", "nomic-embed-text:latest"]


def test_ollama_before_capabilities_existed_guesses_them_from_the_family(fake_ollama):
    server = fake_ollama(models=["llama3:8b", FakeModel.embedding("mxbai-large", family="bert")], legacy_show=True)

    models = {m.name: m for m in run(OllamaProvider(base_url=server.url), lambda p: p.list_models())}

    assert (models["llama3:8b"].can_chat, models["llama3:8b"].can_embed) == (True, False)
    assert (models["mxbai-large:latest"].can_chat, models["mxbai-large:latest"].can_embed) == (False, True)
    assert "capabilities" not in models["llama3:8b"].details


def test_ollama_list_leaves_out_a_model_deleted_between_tags_and_show(fake_ollama):
    server = fake_ollama(models=["llama3:8b"])
    server.fail_next(1, status=404, path="/api/show")

    assert run(OllamaProvider(base_url=server.url), lambda p: p.list_models()) == []


def test_ollama_chat_answers_with_usage_and_maps_openai_options(fake_ollama):
    server = fake_ollama(name="ollama-a")
    options = {"temperature": 0.2, "max_tokens": 4, "stop": "END", "keep_alive": "5m", "n": 1, "top_p": None}

    result = run(
        OllamaProvider(base_url=server.url),
        lambda p: p.chat(model="llama3:8b", messages=USER_HI, options=options),
    )

    assert result.text == "[ollama-a/llama3:8b] you said: hi "
    assert (result.model, result.finish_reason) == ("llama3:8b", "length")
    assert (result.prompt_tokens, result.completion_tokens) == (2, 4)
    assert server.requests_to("/api/chat")[0].json == {
        "model": "llama3:8b",
        "messages": USER_HI,
        "stream": False,
        "keep_alive": "5m",
        "options": {"temperature": 0.2, "num_predict": 4, "stop": ["END"]},
    }


def test_ollama_chat_flattens_openai_content_parts_and_images(fake_ollama):
    server = fake_ollama()
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "text", "text": "this"},
            ],
        }
    ]

    result = run(OllamaProvider(base_url=server.url), lambda p: p.chat(model="llama3:8b", messages=messages))

    assert result.text.endswith("you said: what is\nthis")
    assert server.requests_to("/api/chat")[0].json["messages"] == [
        {"role": "user", "content": "what is\nthis", "images": ["iVBORw0KGgo="]}
    ]


def test_ollama_chat_stream_yields_pieces_then_a_done_chunk_with_usage(fake_ollama):
    server = fake_ollama(name="ollama-s", chunk_delay_s=0.005)

    chunks = run(
        OllamaProvider(base_url=server.url), lambda p: collect(p.chat_stream(model="llama3:8b", messages=USER_HI))
    )

    assert len(chunks) == 6
    assert all(not chunk.done and chunk.text for chunk in chunks[:-1])
    assert "".join(chunk.text for chunk in chunks) == reply_text(
        backend="ollama-s", model="llama3:8b", prompt="hi there"
    )
    assert chunks[-1] == ChatChunk(text="", done=True, finish_reason="stop", prompt_tokens=2, completion_tokens=5)
    assert server.requests_to("/api/chat")[0].json["stream"] is True


def test_ollama_generate_uses_the_generate_endpoint(fake_ollama):
    server = fake_ollama(name="gen")

    result = run(
        OllamaProvider(base_url=server.url),
        lambda p: p.generate(model="llama3:8b", prompt="complete me", options={"seed": 7}),
    )

    assert result.text == reply_text(backend="gen", model="llama3:8b", prompt="complete me")
    assert (result.prompt_tokens, result.completion_tokens, result.finish_reason) == (2, 5, "stop")
    assert server.requests_to("/api/generate")[0].json == {
        "model": "llama3:8b",
        "prompt": "complete me",
        "stream": False,
        "options": {"seed": 7},
    }


def test_ollama_embed_returns_one_vector_per_input_in_order(fake_ollama):
    server = fake_ollama(embedding_dim=12)

    async def call(p):
        return await p.embed(model="nomic-embed-text", inputs=["alpha beta", "gamma"]), await p.embed(
            model="nomic-embed-text", inputs=[]
        )

    embedded, empty = run(OllamaProvider(base_url=server.url), call)

    assert embedded.vectors == [embedding_for("alpha beta", 12), embedding_for("gamma", 12)]
    assert empty.vectors == []
    assert len(server.requests_to("/api/embed")) == 1


def test_ollama_pull_streams_progress_until_success_then_the_model_is_listed(fake_ollama):
    server = fake_ollama(models=["llama3:8b"], pull_steps=2, pull_delay_s=0.005)

    async def call(p):
        progress = await collect(p.pull(model="qwen2:0.5b"))
        return progress, await p.list_models()

    progress, models = run(OllamaProvider(base_url=server.url), call)

    assert progress[0] == PullProgress(status="pulling manifest")
    assert progress[-1] == PullProgress(status="success")
    layer = [item for item in progress if item.digest == progress[1].digest]
    assert [(item.total, item.completed) for item in layer] == [
        (layer[0].total, None),
        (layer[0].total, layer[0].total // 2),
        (layer[0].total, layer[0].total),
    ]
    assert layer[0].status == f"pulling {layer[0].digest.removeprefix('sha256:')[:12]}"
    assert "qwen2:0.5b" in {model.name for model in models}
    assert server.requests_to("/api/pull")[0].json == {"model": "qwen2:0.5b", "stream": True}


def test_ollama_pull_of_a_model_the_registry_lacks_is_a_request_error(fake_ollama):
    server = fake_ollama(registry=["llama3:8b"])

    items, error = run(OllamaProvider(base_url=server.url), lambda p: collect_until_error(p.pull(model="nope")))

    assert items == [PullProgress(status="pulling manifest")]
    assert isinstance(error, ProviderRequestError)
    assert (error.message, error.status) == ("pull model manifest: file does not exist", 404)


def test_ollama_unknown_model_is_a_request_error_with_the_backend_message(fake_ollama):
    server = fake_ollama()

    with pytest.raises(ProviderRequestError) as error:
        run(OllamaProvider(base_url=server.url), lambda p: p.chat(model="missing", messages=USER_HI))

    assert (error.value.message, error.value.status) == ("model 'missing' not found", 404)


def test_ollama_embedding_with_a_chat_model_is_a_request_error(fake_ollama):
    server = fake_ollama()

    with pytest.raises(ProviderRequestError) as error:
        run(OllamaProvider(base_url=server.url), lambda p: p.embed(model="llama3:8b", inputs=["x"]))

    assert (error.value.message, error.value.status) == ('"llama3:8b" does not support embeddings', 400)


def test_ollama_behind_a_proxy_sends_the_api_key_as_bearer(fake_ollama):
    server = fake_ollama(api_key="proxy-secret")

    models = run(OllamaProvider(base_url=server.url, api_key="proxy-secret"), lambda p: p.list_models())
    with pytest.raises(ProviderRequestError) as refused:
        run(OllamaProvider(base_url=server.url), lambda p: p.list_models())

    assert len(models) == 2
    assert server.requests_to("/api/tags")[0].headers["authorization"] == "Bearer proxy-secret"
    assert (refused.value.message, refused.value.status) == ("unauthorized", 401)


# --- openai-compatible ---------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/v1", "/v1/"])
def test_openai_base_url_works_with_or_without_v1(fake_openai, suffix):
    server = fake_openai()

    models = run(OpenAIProvider(base_url=server.url + suffix), lambda p: p.list_models())

    assert [model.name for model in models] == ["gpt-4o-mini", "text-embedding-3-small"]
    assert [request.path for request in server.requests] == ["/v1/models"]


def test_openai_lists_models_guessing_embedding_models_from_their_names(fake_openai):
    server = fake_openai(
        models=["gpt-4o-mini", "text-embedding-3-small", FakeModel.embedding("BAAI/bge-small-en-v1.5")]
    )

    models = run(OpenAIProvider(base_url=server.url), lambda p: p.list_models())

    assert [(m.name, m.can_chat, m.can_stream, m.can_embed) for m in models] == [
        ("gpt-4o-mini", True, True, False),
        ("text-embedding-3-small", False, False, True),
        ("BAAI/bge-small-en-v1.5", False, False, True),
    ]
    assert models[0] == PulledModel(
        name="gpt-4o-mini",
        modified_at=datetime.fromtimestamp(1_715_000_000, UTC),
        details={"owned_by": "openai"},
    )


def test_openai_sends_the_api_key_and_a_wrong_one_is_a_request_error(fake_openai):
    server = fake_openai(api_key="sk-right")

    result = run(
        OpenAIProvider(base_url=server.url, api_key="sk-right"), lambda p: p.chat(model="gpt-4o-mini", messages=USER_HI)
    )
    with pytest.raises(ProviderRequestError) as refused:
        run(OpenAIProvider(base_url=server.url, api_key="sk-wrong-key"), lambda p: p.list_models())

    assert result.text.endswith("you said: hi there")
    assert server.requests_to("/v1/chat/completions")[0].headers["authorization"] == "Bearer sk-right"
    assert refused.value.status == 401
    assert refused.value.message == "Incorrect API key provided: sk-***-key."


def test_openai_chat_returns_text_usage_and_passes_only_openai_options(fake_openai):
    server = fake_openai(name="oa")
    options = {"temperature": 0.5, "max_tokens": 3, "stop": ["x"], "num_ctx": 4096, "top_k": 20, "keep_alive": "1m"}

    result = run(
        OpenAIProvider(base_url=server.url), lambda p: p.chat(model="gpt-4o-mini", messages=USER_HI, options=options)
    )

    assert result.text == "[oa/gpt-4o-mini] you said: "
    assert (result.model, result.finish_reason, result.prompt_tokens, result.completion_tokens) == (
        "gpt-4o-mini",
        "length",
        2,
        3,
    )
    assert server.requests_to("/v1/chat/completions")[0].json == {
        "model": "gpt-4o-mini",
        "messages": USER_HI,
        "temperature": 0.5,
        "max_tokens": 3,
        "stop": ["x"],
    }


def test_openai_chat_stream_yields_deltas_then_a_done_chunk_with_usage(fake_openai):
    server = fake_openai(name="oa-s", chunk_delay_s=0.005)

    chunks = run(
        OpenAIProvider(base_url=server.url), lambda p: collect(p.chat_stream(model="gpt-4o-mini", messages=USER_HI))
    )

    assert "".join(c.text for c in chunks) == reply_text(backend="oa-s", model="gpt-4o-mini", prompt="hi there")
    assert len(chunks) == 6 and not any(c.done for c in chunks[:-1])
    assert chunks[-1] == ChatChunk(text="", done=True, finish_reason="stop", prompt_tokens=2, completion_tokens=5)
    body = server.requests_to("/v1/chat/completions")[0].json
    assert (body["stream"], body["stream_options"]) == (True, {"include_usage": True})


def test_openai_stream_closed_after_the_finish_reason_without_done_marker_is_complete(fake_openai):
    server = fake_openai(done_marker=False)

    chunks = run(
        OpenAIProvider(base_url=server.url), lambda p: collect(p.chat_stream(model="gpt-4o-mini", messages=USER_HI))
    )

    assert chunks[-1].done and chunks[-1].finish_reason == "stop" and chunks[-1].completion_tokens == 5


def test_openai_generate_is_a_chat_with_one_user_message(fake_openai):
    server = fake_openai(name="g")

    result = run(OpenAIProvider(base_url=server.url), lambda p: p.generate(model="gpt-4o-mini", prompt="say it"))

    assert result.text == reply_text(backend="g", model="gpt-4o-mini", prompt="say it")
    assert server.requests_to("/v1/chat/completions")[0].json["messages"] == [{"role": "user", "content": "say it"}]


def test_openai_embed_asks_for_floats_and_returns_vectors_in_input_order(fake_openai):
    server = fake_openai(embedding_dim=8)

    async def call(p):
        return await p.embed(model="text-embedding-3-small", inputs=["one", "two", "three"]), await p.embed(
            model="text-embedding-3-small", inputs=[]
        )

    embedded, empty = run(OpenAIProvider(base_url=server.url), call)

    assert embedded.vectors == [embedding_for(text, 8) for text in ("one", "two", "three")]
    assert empty.vectors == []
    assert server.requests_to("/v1/embeddings")[0].json == {
        "model": "text-embedding-3-small",
        "input": ["one", "two", "three"],
        "encoding_format": "float",
    }


@pytest.mark.parametrize("cls", [OpenAIProvider, VLLMProvider])
def test_openai_compatible_backends_cannot_pull(cls):
    provider = cls(base_url="http://127.0.0.1:9")
    with pytest.raises(ProviderRequestError, match="backends cannot pull models") as error:
        provider.pull(model="llama3")
    assert error.value.status == 400
    asyncio.run(provider.aclose())


def test_openai_unknown_model_is_a_request_error_with_openai_message(fake_openai):
    server = fake_openai()

    with pytest.raises(ProviderRequestError) as error:
        run(OpenAIProvider(base_url=server.url), lambda p: p.chat(model="nope", messages=USER_HI))

    assert error.value.status == 404
    assert error.value.message == "The model `nope` does not exist or you do not have access to it."


# --- vllm ----------------------------------------------------------------------------------


def test_vllm_takes_context_length_from_max_model_len_and_reports_health(fake_openai):
    server = fake_openai(flavor="vllm", models=[FakeModel(name="Qwen/Qwen2.5-7B-Instruct", context_length=32768)])

    async def call(p):
        return await p.list_models(), await p.health()

    models, healthy = run(VLLMProvider(base_url=f"{server.url}/v1"), call)

    assert models[0].name == "Qwen/Qwen2.5-7B-Instruct"
    assert models[0].context_length == 32768
    assert models[0].details["root"] == "Qwen/Qwen2.5-7B-Instruct"
    assert healthy is True
    assert [request.path for request in server.requests] == ["/v1/models", "/health"]


def test_vllm_passes_its_own_sampling_options_that_openai_drops(fake_openai):
    server = fake_openai(flavor="vllm")
    options = {"temperature": 0.1, "top_k": 20, "min_p": 0.05, "num_ctx": 2048}

    run(VLLMProvider(base_url=server.url), lambda p: p.chat(model="gpt-4o-mini", messages=USER_HI, options=options))
    run(OpenAIProvider(base_url=server.url), lambda p: p.chat(model="gpt-4o-mini", messages=USER_HI, options=options))

    vllm_body, openai_body = (request.json for request in server.requests_to("/v1/chat/completions"))
    assert {k: vllm_body.get(k) for k in options} == {"temperature": 0.1, "top_k": 20, "min_p": 0.05, "num_ctx": None}
    assert {k: openai_body.get(k) for k in options} == {
        "temperature": 0.1,
        "top_k": None,
        "min_p": None,
        "num_ctx": None,
    }


def test_vllm_error_body_message_is_kept(fake_openai):
    server = fake_openai(flavor="vllm", api_key="token")

    with pytest.raises(ProviderRequestError) as unknown:
        run(VLLMProvider(base_url=server.url, api_key="token"), lambda p: p.embed(model="nope", inputs=["x"]))
    with pytest.raises(ProviderRequestError) as unauthorized:
        run(VLLMProvider(base_url=server.url), lambda p: p.list_models())

    assert (unknown.value.status, unknown.value.message) == (
        404,
        "The model `nope` does not exist or you do not have access to it.",
    )
    assert (unauthorized.value.status, unauthorized.value.message) == (401, "Unauthorized")


def test_vllm_health_of_a_stopped_server_is_unavailable(fake_openai):
    server = fake_openai(flavor="vllm")
    server.go_down()

    with pytest.raises(
        ProviderUnavailable, match=rf"backend {server.url} unavailable: {server.url}/health: ConnectError"
    ):
        run(VLLMProvider(base_url=server.url), lambda p: p.health())


# --- tools and structured output ----------------------------------------------------------

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CLOCK_TOOL = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
ASK_WEATHER = [{"role": "user", "content": "Paris"}]
# The follow-up turn of every agent framework: the assistant's tool call, then the tool's result.
FOLLOW_UP = [
    *ASK_WEATHER,
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "18 C and sunny"},
]


def test_ollama_sends_tools_and_returns_the_tool_call_in_openai_shape(fake_ollama):
    server = fake_ollama()

    result = run(
        OllamaProvider(base_url=server.url),
        lambda p: p.chat(model="llama3:8b", messages=ASK_WEATHER, options={"tools": [WEATHER_TOOL]}),
    )

    assert (result.text, result.finish_reason) == ("", "tool_calls")
    [call] = result.tool_calls
    assert call["id"].startswith("call_") and len(call["id"]) > 10
    assert call == {
        "id": call["id"],
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    assert server.requests_to("/api/chat")[0].json["tools"] == [WEATHER_TOOL]


def test_ollama_stream_yields_the_tool_call_as_one_delta_then_finish_reason_tool_calls(fake_ollama):
    server = fake_ollama()

    chunks = run(
        OllamaProvider(base_url=server.url),
        lambda p: collect(p.chat_stream(model="llama3:8b", messages=ASK_WEATHER, options={"tools": [WEATHER_TOOL]})),
    )

    assert len(chunks) == 2
    [delta] = chunks[0].tool_calls
    assert delta == {
        "index": 0,
        "id": delta["id"],
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    assert (chunks[1].done, chunks[1].finish_reason, chunks[1].tool_calls) == (True, "tool_calls", ())


def test_ollama_follow_up_turn_sends_object_arguments_and_the_tool_name(fake_ollama):
    server = fake_ollama(name="ol")

    result = run(
        OllamaProvider(base_url=server.url),
        lambda p: p.chat(model="llama3:8b", messages=FOLLOW_UP, options={"tools": [WEATHER_TOOL]}),
    )

    assert (result.text, result.finish_reason, result.tool_calls) == (
        "[ol/llama3:8b] get_weather returned: 18 C and sunny",
        "stop",
        (),
    )
    assert server.requests_to("/api/chat")[0].json["messages"] == [
        {"role": "user", "content": "Paris"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}, "id": "call_1"}],
        },
        {"role": "tool", "content": "18 C and sunny", "tool_name": "get_weather", "tool_call_id": "call_1"},
    ]


def test_ollama_tool_call_arguments_that_are_not_a_json_object_are_refused_before_sending(fake_ollama):
    server = fake_ollama()
    broken = [dict(message) for message in FOLLOW_UP]
    broken[1] = {
        **broken[1],
        "tool_calls": [{**FOLLOW_UP[1]["tool_calls"][0], "function": {"name": "f", "arguments": "[1"}}],
    }

    with pytest.raises(ProviderRequestError) as error:
        run(OllamaProvider(base_url=server.url), lambda p: p.chat(model="llama3:8b", messages=broken))

    assert (error.value.status, error.value.message) == (
        400,
        "the arguments of tool call 'f' are not a JSON object: Ollama needs one",
    )
    assert server.requests_to("/api/chat") == []


@pytest.mark.parametrize(
    ("tool_choice", "offered"),
    [
        ("auto", [WEATHER_TOOL, CLOCK_TOOL]),
        ("required", [WEATHER_TOOL, CLOCK_TOOL]),
        ("none", None),
        ({"type": "function", "function": {"name": "get_time"}}, [CLOCK_TOOL]),
    ],
)
def test_ollama_has_no_tool_choice_so_it_decides_which_tools_are_offered(fake_ollama, tool_choice, offered):
    server = fake_ollama()
    options = {"tools": [WEATHER_TOOL, CLOCK_TOOL], "tool_choice": tool_choice, "parallel_tool_calls": False}

    run(OllamaProvider(base_url=server.url), lambda p: p.chat(model="llama3:8b", messages=USER_HI, options=options))

    body = server.requests_to("/api/chat")[0].json
    assert body.get("tools") == offered
    assert "tool_choice" not in body and "parallel_tool_calls" not in body and "options" not in body


SCHEMA = {"type": "object", "properties": {"said": {"type": "string"}, "words": {"type": "integer"}}}
ECHO = "[ollama/llama3:8b] you said: x"


@pytest.mark.parametrize(
    ("response_format", "sent_format", "answer"),
    [
        ({"type": "json_schema", "json_schema": {"name": "w", "schema": SCHEMA}}, SCHEMA, {"said": ECHO, "words": 4}),
        ({"type": "json_object"}, "json", {"answer": ECHO}),
    ],
)
def test_ollama_gets_response_format_as_format(fake_ollama, response_format, sent_format, answer):
    server = fake_ollama()
    options = {"response_format": response_format}

    result = run(
        OllamaProvider(base_url=server.url),
        lambda p: p.chat(model="llama3:8b", messages=[{"role": "user", "content": "x"}], options=options),
    )

    assert server.requests_to("/api/chat")[0].json["format"] == sent_format
    assert json.loads(result.text) == answer


def test_ollama_gets_no_format_for_a_text_response_format(fake_ollama):
    server = fake_ollama()
    options = {"response_format": {"type": "text"}}

    result = run(
        OllamaProvider(base_url=server.url),
        lambda p: p.chat(model="llama3:8b", messages=[{"role": "user", "content": "x"}], options=options),
    )

    assert "format" not in server.requests_to("/api/chat")[0].json
    assert result.text == ECHO


def test_ollama_gets_developer_messages_as_system_and_drops_openai_only_fields(fake_ollama):
    server = fake_ollama()
    messages = [{"role": "developer", "content": [{"type": "text", "text": "be brief"}]}, {**USER_HI[0], "name": "ann"}]

    run(OllamaProvider(base_url=server.url), lambda p: p.chat(model="llama3:8b", messages=messages))

    assert server.requests_to("/api/chat")[0].json["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi there"},
    ]


def test_ollama_refuses_token_id_inputs_to_embed_without_sending_them(fake_ollama):
    server = fake_ollama()

    with pytest.raises(ProviderRequestError, match="Ollama embeds text only"):
        run(OllamaProvider(base_url=server.url), lambda p: p.embed(model="nomic-embed-text", inputs=[[1, 2, 3]]))

    assert server.requests_to("/api/embed") == []


@pytest.mark.parametrize("kind", ["openai", "vllm"])
def test_openai_compatible_backends_get_tools_and_response_format_as_is_and_return_tool_calls(
    fake_ollama, fake_openai, kind
):
    server = server_for(kind, fake_ollama, fake_openai)
    options = {
        "tools": [WEATHER_TOOL],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "response_format": {"type": "json_object"},
    }
    provider = provider_for(kind, base_url=server.url)

    result = run(provider, lambda p: p.chat(model="gpt-4o-mini", messages=ASK_WEATHER, options=options))

    assert (result.text, result.finish_reason) == ("", "tool_calls")
    [call] = result.tool_calls
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert (call["type"], call["id"].startswith("call_")) == ("function", True)
    assert server.requests_to("/v1/chat/completions")[0].json == {
        "model": "gpt-4o-mini",
        "messages": ASK_WEATHER,
        **options,
    }


def test_openai_stream_passes_tool_call_deltas_through_and_the_follow_up_turn_as_is(fake_openai):
    server = fake_openai(name="oa-t", chunk_delay_s=0.002)
    options = {"tools": [WEATHER_TOOL]}

    async def both(p):
        chunks = await collect(p.chat_stream(model="gpt-4o-mini", messages=ASK_WEATHER, options=options))
        return chunks, await p.chat(model="gpt-4o-mini", messages=FOLLOW_UP, options=options)

    chunks, follow_up = run(OpenAIProvider(base_url=server.url), both)

    deltas = [delta for chunk in chunks for delta in chunk.tool_calls]
    assert deltas[0]["function"] == {"name": "get_weather", "arguments": ""} and deltas[0]["index"] == 0
    assert "".join(delta["function"]["arguments"] for delta in deltas) == '{"city": "Paris"}'
    assert (chunks[-1].done, chunks[-1].finish_reason) == (True, "tool_calls")
    assert follow_up.text == "[oa-t/gpt-4o-mini] get_weather returned: 18 C and sunny"
    assert server.requests_to("/v1/chat/completions")[1].json["messages"] == FOLLOW_UP


# --- failure mapping, for every adapter ----------------------------------------------------


@pytest.mark.parametrize("kind", PROVIDER_TYPES)
@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_5xx_and_429_are_unavailable_naming_the_backend_and_status(fake_ollama, fake_openai, kind, status):
    server = server_for(kind, fake_ollama, fake_openai, name="sick")
    server.fail_next(1, status=status)

    with pytest.raises(ProviderUnavailable) as error:
        run(provider_for(kind, base_url=server.url), lambda p: p.chat(model=CHAT_MODEL[kind], messages=USER_HI))

    assert error.value.status == status
    assert f"backend {server.url} unavailable" in error.value.message
    assert f"answered {status}: sick: failure injected by the test ({status})" in error.value.message


@pytest.mark.parametrize("kind", PROVIDER_TYPES)
def test_a_backend_that_hangs_is_unavailable_after_the_timeout(fake_ollama, fake_openai, kind):
    server = server_for(kind, fake_ollama, fake_openai)
    server.hang()

    async def call(p):
        with pytest.raises(ProviderUnavailable) as plain:
            await p.list_models()
        with pytest.raises(ProviderUnavailable) as streamed:
            await collect(p.chat_stream(model=CHAT_MODEL[kind], messages=USER_HI))
        return plain.value, streamed.value

    started = time.monotonic()
    plain, streamed = run(provider_for(kind, base_url=server.url, timeout_s=0.3), call)

    assert time.monotonic() - started < 3
    for error in (plain, streamed):
        assert f"backend {server.url} unavailable" in error.message
        assert "no answer within 0.3 s (ReadTimeout" in error.message


@pytest.mark.parametrize("kind", PROVIDER_TYPES)
def test_a_backend_that_stalls_mid_stream_is_unavailable_after_the_timeout(fake_ollama, fake_openai, kind):
    server = server_for(kind, fake_ollama, fake_openai, chunk_delay_s=2.0)

    items, error = run(
        provider_for(kind, base_url=server.url, timeout_s=0.3),
        lambda p: collect_until_error(p.chat_stream(model=CHAT_MODEL[kind], messages=USER_HI)),
    )

    assert len(items) <= 1
    assert isinstance(error, ProviderUnavailable)
    assert "stream stalled, nothing for 0.3 s (ReadTimeout" in error.message


@pytest.mark.parametrize("kind", PROVIDER_TYPES)
def test_a_backend_that_is_down_is_unavailable_and_usable_again_when_back(fake_ollama, fake_openai, kind):
    server = server_for(kind, fake_ollama, fake_openai)

    async def call(p):
        before = await p.list_models()
        server.go_down()
        with pytest.raises(ProviderUnavailable) as down:
            await p.list_models()
        server.come_back()
        return before, down.value, await p.list_models()

    before, down, after = run(provider_for(kind, base_url=server.url), call)

    assert before == after and len(before) == 2
    assert down.status is None
    assert f"backend {server.url} unavailable" in down.message and "ConnectError" in down.message


def test_nothing_listening_on_the_port_is_unavailable():
    url = f"http://127.0.0.1:{free_port()}"
    for kind in PROVIDER_TYPES:
        with pytest.raises(ProviderUnavailable, match="ConnectError"):
            run(provider_for(kind, base_url=url), lambda p: p.embed(model="m", inputs=["x"]))


@pytest.mark.parametrize("kind", PROVIDER_TYPES)
def test_a_chat_stream_broken_mid_way_is_unavailable_after_the_first_chunks(fake_ollama, fake_openai, kind):
    server = server_for(kind, fake_ollama, fake_openai, name="cut")
    server.fail_mid_stream(after_chunks=3)

    items, error = run(
        provider_for(kind, base_url=server.url),
        lambda p: collect_until_error(p.chat_stream(model=CHAT_MODEL[kind], messages=USER_HI)),
    )

    assert 1 <= len(items) <= 3 and not any(item.done for item in items)
    assert "".join(item.text for item in items).startswith(f"[cut/{CHAT_MODEL[kind]}]")
    assert isinstance(error, ProviderUnavailable)
    assert f"backend {server.url} unavailable" in error.message
    assert "stream broken mid-way" in error.message


def test_an_ollama_pull_broken_mid_way_is_unavailable_and_the_model_not_pulled(fake_ollama):
    server = fake_ollama(models=[])
    server.fail_mid_stream(after_chunks=4)

    items, error = run(OllamaProvider(base_url=server.url), lambda p: collect_until_error(p.pull(model="phi3")))

    assert len(items) == 4 and items[0].status == "pulling manifest"
    assert isinstance(error, ProviderUnavailable) and "stream broken mid-way" in error.message
    assert server.model_names == []


def test_a_4xx_other_than_408_and_429_is_a_request_error_with_the_text_body(fake_ollama):
    # An OpenAI adapter pointed at Ollama: /v1/models is Ollama's plain-text 404 here.
    server = fake_ollama()

    with pytest.raises(ProviderRequestError) as error:
        run(OpenAIProvider(base_url=server.url), lambda p: p.list_models())

    assert (error.value.status, error.value.message) == (404, "404 page not found")


def test_one_adapter_serves_100_concurrent_chats(fake_ollama):
    server = fake_ollama(chunk_delay_s=0.01)

    async def call(p):
        return await asyncio.gather(
            *(p.chat(model="llama3:8b", messages=[{"role": "user", "content": f"n{i}"}]) for i in range(100))
        )

    results = run(OllamaProvider(base_url=server.url), call)

    assert [r.text for r in results] == [
        reply_text(backend="ollama", model="llama3:8b", prompt=f"n{i}") for i in range(100)
    ]
