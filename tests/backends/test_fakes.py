"""The fake backends speak the real wire formats: real clients (openai, httpx) work against them."""

import asyncio
import json
import time

import httpx
import openai
import pytest

from tests.fakes.backends_common import embedding_for, reply_text


def openai_client(server, api_key: str = "sk-test") -> openai.OpenAI:
    return openai.OpenAI(api_key=api_key, base_url=f"{server.url}/v1", max_retries=0, timeout=10)


def test_openai_client_lists_models_and_gets_a_chat_answer_naming_the_backend(fake_openai):
    server = fake_openai(name="vllm-a", api_key="sk-test")
    client = openai_client(server)

    assert [model.id for model in client.models.list()] == ["gpt-4o-mini", "text-embedding-3-small"]
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello fake world"}],
    )

    assert completion.choices[0].message.content == reply_text(
        backend="vllm-a", model="gpt-4o-mini", prompt="hello fake world"
    )
    assert completion.choices[0].finish_reason == "stop"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (5, 6)
    assert server.requests_to("/v1/chat/completions")[0].headers["authorization"] == "Bearer sk-test"


def test_openai_client_streams_several_chunks_then_usage(fake_openai):
    server = fake_openai(name="stream", chunk_delay_s=0.01)
    stream = openai_client(server).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "one two three"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    texts = [chunk.choices[0].delta.content for chunk in chunks if chunk.choices and chunk.choices[0].delta.content]
    assert len(texts) == 6
    assert "".join(texts) == reply_text(backend="stream", model="gpt-4o-mini", prompt="one two three")
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 6


def test_openai_client_gets_deterministic_embeddings_in_base64_and_floats(fake_openai):
    server = fake_openai(embedding_dim=16)
    client = openai_client(server)

    # The openai package asks for base64 by default and decodes it.
    default = client.embeddings.create(model="text-embedding-3-small", input=["red apple", "green pear"])
    floats = client.embeddings.create(model="text-embedding-3-small", input="red apple", encoding_format="float")

    assert server.requests_to("/v1/embeddings")[0].json["encoding_format"] == "base64"
    assert [item.index for item in default.data] == [0, 1]
    assert default.data[0].embedding == pytest.approx(embedding_for("red apple", 16), abs=1e-6)
    assert floats.data[0].embedding == embedding_for("red apple", 16)
    assert default.data[0].embedding != pytest.approx(default.data[1].embedding)
    assert default.usage.prompt_tokens == 4


def test_openai_errors_use_openai_error_body(fake_openai):
    server = fake_openai(api_key="sk-right")

    with pytest.raises(openai.AuthenticationError) as wrong_key:
        openai_client(server, api_key="sk-wrong").models.list()
    with pytest.raises(openai.NotFoundError) as unknown:
        openai_client(server, api_key="sk-right").chat.completions.create(
            model="nope", messages=[{"role": "user", "content": "hi"}]
        )

    assert wrong_key.value.status_code == 401
    assert wrong_key.value.body["code"] == "invalid_api_key"
    assert unknown.value.body == {
        "message": "The model `nope` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }


def test_httpx_streams_an_ollama_pull_line_by_line_and_the_model_then_appears(fake_ollama):
    server = fake_ollama(models=["llama3:8b"], pull_steps=3, pull_delay_s=0.02)
    arrivals: list[tuple[float, dict]] = []

    with httpx.stream("POST", f"{server.url}/api/pull", json={"model": "mistral"}, timeout=10) as response:
        assert response.headers["content-type"] == "application/x-ndjson"
        assert response.headers["transfer-encoding"] == "chunked"
        for line in response.iter_lines():
            arrivals.append((time.monotonic(), json.loads(line)))

    statuses = [item["status"] for _, item in arrivals]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    layers = [item for _, item in arrivals if "digest" in item]
    assert len(layers) == 3 * 4  # three layers, each announced then three progress lines
    assert all(item["digest"].startswith("sha256:") and item["status"].startswith("pulling ") for item in layers)
    assert [item.get("completed") for item in layers[:4]] == [None, *(layers[0]["total"] * k // 3 for k in (1, 2, 3))]
    # Progress arrives over time, not in one burst at the end.
    assert arrivals[-1][0] - arrivals[0][0] >= 0.2
    tags = httpx.get(f"{server.url}/api/tags").json()["models"]
    assert [model["name"] for model in tags] == ["llama3:8b", "mistral:latest"]


def test_fake_serves_150_concurrent_streams_at_once(fake_ollama):
    server = fake_ollama(chunk_delay_s=0.02)

    async def one(client: httpx.AsyncClient, index: int) -> str:
        body = {"model": "llama3:8b", "messages": [{"role": "user", "content": f"request {index}"}]}
        text = ""
        async with client.stream("POST", "/api/chat", json=body) as response:
            async for line in response.aiter_lines():
                text += json.loads(line)["message"]["content"]
        return text

    async def burst() -> list[str]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as client:
            return await asyncio.gather(*(one(client, i) for i in range(150)))

    started = time.monotonic()
    answers = asyncio.run(burst())
    elapsed = time.monotonic() - started

    assert answers == [reply_text(backend="ollama", model="llama3:8b", prompt=f"request {i}") for i in range(150)]
    # Each stream takes ~0.1 s of chunk delays; served one after another they would take 15 s.
    assert elapsed < 5


def test_go_down_refuses_connections_and_come_back_listens_on_the_same_port(fake_ollama):
    server = fake_ollama()
    url = server.url
    with httpx.Client(base_url=url, timeout=5) as client:
        assert client.get("/api/version").status_code == 200
        server.go_down()
        with pytest.raises(httpx.ConnectError):
            client.get("/api/version")
        server.come_back()
        assert server.url == url
        assert client.get("/api/version").json() == {"version": "0.6.5"}


def test_hang_keeps_requests_unanswered_until_released(fake_openai):
    server = fake_openai()
    server.hang(path="/v1/chat")
    with httpx.Client(base_url=server.url, timeout=0.3) as client:
        assert client.get("/v1/models").status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            client.post("/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": []})
        server.stop_hanging()
        answer = client.post(
            "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
        )
        assert answer.status_code == 200


def test_fail_next_answers_errors_then_recovers_and_the_log_records_requests(fake_ollama):
    server = fake_ollama(name="flaky")
    server.fail_next(2, status=503, path="/api/chat")
    body = {"model": "llama3:8b", "messages": [{"role": "user", "content": "hi"}], "stream": False}
    with httpx.Client(base_url=server.url, timeout=5) as client:
        assert client.get("/api/tags").status_code == 200  # another path is not affected
        first, second, third = (client.post("/api/chat", json=body, headers={"X-Trace": str(i)}) for i in range(3))

    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert first.json() == {"error": "flaky: failure injected by the test (503)"}
    chats = server.requests_to("/api/chat", "POST")
    assert [request.headers["x-trace"] for request in chats] == ["0", "1", "2"]
    assert chats[2].json == body


def test_fail_mid_stream_drops_the_connection_after_some_chunks(fake_openai):
    server = fake_openai()
    server.fail_mid_stream(after_chunks=3)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "a b c d e f"}], "stream": True}
    received: list[str] = []
    with httpx.Client(base_url=server.url, timeout=5) as client:
        with pytest.raises(httpx.RemoteProtocolError), client.stream("POST", "/v1/chat/completions", json=body) as r:
            for line in r.iter_lines():
                received.append(line)
        # Only the next stream fails.
        with client.stream("POST", "/v1/chat/completions", json=body) as response:
            assert list(response.iter_lines())[-2:] == ["data: [DONE]", ""]

    assert len([line for line in received if line.startswith("data:")]) == 3


def test_latency_and_the_model_set_can_be_changed_while_running(fake_ollama, fake_openai):
    ollama = fake_ollama(models=["llama3:8b"])
    compatible = fake_openai(models=["gpt-4o-mini"])
    ollama.add_model("phi3")
    ollama.remove_model("llama3:8b")
    compatible.add_model("text-embedding-3-small")
    compatible.latency_s = 0.2

    started = time.monotonic()
    listed = httpx.get(f"{compatible.url}/v1/models", timeout=5).json()["data"]
    elapsed = time.monotonic() - started

    assert [model["name"] for model in httpx.get(f"{ollama.url}/api/tags").json()["models"]] == ["phi3:latest"]
    assert [model["id"] for model in listed] == ["gpt-4o-mini", "text-embedding-3-small"]
    assert elapsed >= 0.2
