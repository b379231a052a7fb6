"""Thinking through the backends layer: `think` / `thinking_budget` reach each backend the way its
protocol takes them, the thinking comes back as `ChatResult.thinking` / `ChatChunk.thinking`, and
the gateway answers it as `reasoning_content` (and the projects spec's `thinking`)."""

import asyncio
import json

import pytest

from apps.backends import gateway, routing, services
from apps.backends.providers.base import ProviderRequestError, Thinking
from apps.backends.providers.local import LocalProvider
from apps.backends.providers.ollama import OllamaProvider
from apps.backends.providers.openai import OpenAIProvider, thinking_of
from apps.backends.providers.vllm import VLLMProvider
from apps.backends.sync import backends_sync
from tests.backends.test_providers import USER_HI, collect, run
from tests.fakes.backends_common import FakeModel, reply_pieces, reply_text, thinking_text
from tests.fakes.backends_ollama import FakeOllama

THINKER = FakeModel(name="qwen3:0.6b", capabilities=("completion", "thinking"))
THOUGHT = thinking_text(model="qwen3:0.6b", prompt="hi there")


def first_words(text: str, count: int) -> str:
    return "".join(reply_pieces(text, count)[0])


# --- providers -------------------------------------------------------------------------------------


def test_the_local_runtime_gets_think_and_budget_and_its_reasoning_content_is_the_thinking(fake_openai):
    server = fake_openai(name="runtime", models=[THINKER])
    options = {"think": True, "thinking_budget": 4, "max_tokens": 50}

    result = run(
        LocalProvider(base_url=server.url), lambda p: p.chat(model="qwen3:0.6b", messages=USER_HI, options=options)
    )

    body = server.requests_to("/v1/chat/completions")[0].json
    assert (body["think"], body["thinking_budget"]) == (True, 4)
    assert result.thinking == Thinking(content=first_words(THOUGHT, 4), tokens=4)
    assert result.text == reply_text(backend="runtime", model="qwen3:0.6b", prompt="hi there")


def test_a_streamed_answer_carries_the_thinking_deltas_before_the_text(fake_openai):
    server = fake_openai(name="runtime", models=[THINKER])

    chunks = run(
        LocalProvider(base_url=server.url),
        lambda p: collect(p.chat_stream(model="qwen3:0.6b", messages=USER_HI, options={"think": True})),
    )

    thinking = [chunk for chunk in chunks if chunk.thinking]
    assert "".join(chunk.thinking for chunk in thinking) == THOUGHT
    assert all(not chunk.text for chunk in thinking)
    assert chunks.index(thinking[-1]) < min(i for i, chunk in enumerate(chunks) if chunk.text)
    assert "".join(chunk.text for chunk in chunks) == reply_text(
        backend="runtime", model="qwen3:0.6b", prompt="hi there"
    )
    assert chunks[-1].done and chunks[-1].thinking == ""


def test_openai_gets_no_think_field_and_a_model_that_did_not_think_has_no_thinking(fake_openai):
    server = fake_openai(name="oa", models=[THINKER])

    result = run(
        OpenAIProvider(base_url=server.url),
        lambda p: p.chat(model="qwen3:0.6b", messages=USER_HI, options={"think": True, "thinking_budget": 9}),
    )

    body = server.requests_to("/v1/chat/completions")[0].json
    assert "think" not in body and "thinking_budget" not in body  # OpenAI answers 400 to unknown fields
    assert result.thinking is None


def test_the_top_level_thinking_of_the_projects_spec_is_read_with_its_tokens():
    data = {"thinking": {"content": "let me see", "tokens": 3}}

    assert thinking_of(data, {"content": "4"}, {}) == Thinking(content="let me see", tokens=3)
    assert thinking_of({}, {"reasoning_content": "hmm"}, {"completion_tokens_details": {"reasoning_tokens": 1}}) == (
        Thinking(content="hmm", tokens=1)
    )
    assert thinking_of({}, {"content": "4", "reasoning_content": ""}, {}) is None


@pytest.mark.parametrize(("think", "thinks"), [(True, True), (False, False)])
def test_vllm_switches_thinking_in_the_chat_template_and_its_reasoning_field_is_read(fake_openai, think, thinks):
    server = fake_openai(name="vllm", flavor="vllm", models=[THINKER])

    result = run(
        VLLMProvider(base_url=server.url),
        lambda p: p.chat(model="qwen3:0.6b", messages=USER_HI, options={"think": think, "thinking_budget": 2}),
    )

    body = server.requests_to("/v1/chat/completions")[0].json
    assert body["chat_template_kwargs"] == {"enable_thinking": think}
    assert "think" not in body and "thinking_budget" not in body
    assert result.thinking == (Thinking(content=THOUGHT, tokens=len(reply_pieces(THOUGHT)[0])) if thinks else None)


def test_ollama_gets_think_at_the_top_level_and_message_thinking_is_the_thinking(fake_ollama):
    server = fake_ollama(name="ollama-t", models=[THINKER])
    options = {"think": True, "thinking_budget": 5}

    result = run(
        OllamaProvider(base_url=server.url), lambda p: p.chat(model="qwen3:0.6b", messages=USER_HI, options=options)
    )
    chunks = run(
        OllamaProvider(base_url=server.url),
        lambda p: collect(p.chat_stream(model="qwen3:0.6b", messages=USER_HI, options=options)),
    )

    body = server.requests_to("/api/chat")[0].json
    assert body["think"] is True and "thinking_budget" not in json.dumps(body)  # Ollama has no budget
    assert result.thinking == Thinking(content=THOUGHT, tokens=None)  # Ollama counts it in eval_count only
    assert result.text == reply_text(backend="ollama-t", model="qwen3:0.6b", prompt="hi there")
    assert "".join(chunk.thinking for chunk in chunks) == THOUGHT
    assert "".join(chunk.text for chunk in chunks) == result.text


def test_ollama_refuses_think_for_a_model_that_cannot_think(fake_ollama):
    server = fake_ollama(name="ollama-t")

    with pytest.raises(ProviderRequestError) as error:
        run(
            OllamaProvider(base_url=server.url),
            lambda p: p.chat(model="llama3:8b", messages=USER_HI, options={"think": True}),
        )

    assert error.value.status == 400 and "does not support thinking" in error.value.message


# --- the gateway -----------------------------------------------------------------------------------


@pytest.fixture
def thinking_backend(db, fresh_routing):
    with FakeOllama(name="think-ollama", models=[THINKER]) as fake:
        backends_sync([services.backend_create(name=fake.name, base_url=fake.url, type="ollama")])
        routing.routing_invalidate()
        yield fake


@pytest.mark.django_db(transaction=True)
def test_the_gateway_passes_think_on_and_answers_reasoning_content_and_thinking(client_openai, thinking_backend):
    reply = client_openai.chat.completions.create(
        model="qwen3:0.6b", messages=USER_HI, extra_body={"think": True, "thinking_budget": 64}
    )
    raw = client_openai.chat.completions.with_raw_response.create(
        model="qwen3:0.6b", messages=USER_HI, extra_body={"think": True}
    )
    plain = client_openai.chat.completions.create(model="qwen3:0.6b", messages=USER_HI)

    assert thinking_backend.requests_to("/api/chat")[0].json["think"] is True
    assert reply.choices[0].message.content == reply_text(backend="think-ollama", model="qwen3:0.6b", prompt="hi there")
    assert reply.choices[0].message.reasoning_content == THOUGHT
    assert json.loads(raw.text)["thinking"] == {"content": THOUGHT, "tokens": None}
    assert "think" not in thinking_backend.requests_to("/api/chat")[2].json
    assert getattr(plain.choices[0].message, "reasoning_content", None) is None
    assert "thinking" not in plain.model_extra


@pytest.mark.django_db(transaction=True)
def test_the_gateway_streams_thinking_as_reasoning_content_deltas_before_the_content(thinking_backend):
    async def stream() -> list[dict]:
        options = gateway.chat_options({"think": True, "max_tokens": 100})
        chunks = await gateway.chat_completion_stream(model="qwen3:0.6b", messages=USER_HI, options=options)
        return [chunk async for chunk in chunks]

    deltas = [chunk["choices"][0]["delta"] for chunk in asyncio.run(stream()) if chunk["choices"]]

    reasoning = [delta.get("reasoning_content", "") for delta in deltas]
    content = [delta.get("content") or "" for delta in deltas]
    assert "".join(reasoning) == THOUGHT and len([piece for piece in reasoning if piece]) > 1
    assert "".join(content) == reply_text(backend="think-ollama", model="qwen3:0.6b", prompt="hi there")
    assert max(i for i, piece in enumerate(reasoning) if piece) < min(i for i, piece in enumerate(content) if piece)
    assert thinking_backend.requests_to("/api/chat")[0].json["think"] is True
