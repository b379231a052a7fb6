"""Routing and the gateway end to end: a real `manage.py serve`, fake backends on 127.0.0.1,
and the official `openai` client."""

import time

import httpx
import openai
import pytest

from tests.fakes.backends_ollama import FakeOllama
from tests.fakes.backends_openai import FakeOpenAI
from tests.fakes.servers import start_live_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        live = start_live_server(
            tmp_path_factory.mktemp("gateway") / "serve.log",
            MODELYARD_DEFAULT_MODEL="llama3:8b",
            MODELYARD_EMBED_MODEL="nomic-embed-text",
            MODELYARD_BACKEND_TIMEOUT="3",
        )
    yield live
    live.stop()


@pytest.fixture
def fakes():
    started = []

    def start(kind, **options):
        fake = (FakeOllama if kind == "ollama" else FakeOpenAI)(**options).start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


class Runtime:
    """The runtime API of a live server, as a client uses it."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)

    def backend(self, fake, *, type: str) -> dict:
        response = self.http.post("/backends", json={"name": fake.name, "baseUrl": fake.url, "type": type})
        assert response.status_code == 201, response.text
        return response.json()

    def pool(self, name: str) -> dict:
        return self.http.post("/pools", json={"name": name, "purposeType": "Internal Tasks"}).json()

    def model(self, name: str, **fields) -> dict:
        return self.http.post("/models", json={"model": name, **fields}).json()

    def join(self, pool: dict, *, backend: dict | None = None, model: dict | None = None) -> None:
        if backend:
            assert self.http.post(f"/backend-associations/{pool['id']}/backends/{backend['id']}").status_code == 201
        if model:
            assert self.http.post(f"/model-associations/{pool['id']}/models/{model['id']}").status_code == 200

    def wait_synced(self, backend: dict, timeout: float = 15) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.http.get(f"/backends/{backend['id']}").json()
            if state["models"] or state.get("error"):
                return state
            time.sleep(0.2)
        raise AssertionError(f"backend {backend['name']} never synced")


@pytest.fixture
def runtime(server):
    client = Runtime(server.url)
    yield client
    client.http.close()


def openai_client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=30)


def test_the_openai_client_chats_streams_and_embeds_through_the_gateway(server, runtime, fakes):
    backend = runtime.backend(fakes("ollama", name="gw-ollama"), type="ollama")
    runtime.wait_synced(backend)
    client = openai_client(server)

    reply = client.chat.completions.create(model="llama3:8b", messages=[{"role": "user", "content": "hello"}])
    streamed = client.chat.completions.create(
        model="llama3:8b", messages=[{"role": "user", "content": "stream please"}], stream=True
    )
    pieces = [chunk.choices[0].delta.content or "" for chunk in streamed if chunk.choices]
    vectors = client.embeddings.create(model="nomic-embed-text", input=["one", "two"])

    assert reply.choices[0].message.content == "[gw-ollama/llama3:8b] you said: hello"
    assert reply.usage.total_tokens > 0
    assert len([piece for piece in pieces if piece]) > 1  # really streamed in several chunks
    assert "".join(pieces) == "[gw-ollama/llama3:8b] you said: stream please"
    assert [len(item.embedding) for item in vectors.data] == [32, 32]
    assert vectors.data[0].embedding != vectors.data[1].embedding


def test_an_openai_compatible_backend_gets_the_provider_key(server, runtime, fakes):
    fake = fakes("openai", name="gw-openai", api_key="sk-secret-key-000")
    runtime.http.post("/providers/openai/configure", json={"apiKey": "sk-secret-key-000"})
    runtime.wait_synced(runtime.backend(fake, type="openai"))

    reply = openai_client(server).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )

    assert reply.choices[0].message.content == "[gw-openai/gpt-4o-mini] you said: hi"
    assert fake.requests_to("/v1/chat/completions")[-1].headers["authorization"] == "Bearer sk-secret-key-000"


def test_with_pools_a_model_goes_only_to_backends_sharing_a_pool_with_it(server, runtime, fakes):
    inside, outside = fakes("ollama", name="in-pool"), fakes("ollama", name="out-of-pool")
    backend_in, backend_out = runtime.backend(inside, type="ollama"), runtime.backend(outside, type="ollama")
    chat, other = runtime.pool("iso-chat"), runtime.pool("iso-other")
    model = runtime.model("llama3:8b")
    runtime.join(chat, backend=backend_in, model=model)
    runtime.join(other, backend=backend_out)
    runtime.wait_synced(backend_in), runtime.wait_synced(backend_out)
    client = openai_client(server)

    answers = {
        client.chat.completions.create(model="llama3:8b", messages=[{"role": "user", "content": str(i)}])
        .choices[0]
        .message.content.split("/")[0]
        for i in range(6)
    }
    with pytest.raises(openai.NotFoundError, match="not in any pool"):
        client.chat.completions.create(model="nomic-embed-text", messages=[{"role": "user", "content": "x"}])

    assert answers == {"[in-pool"}
    assert outside.requests_to("/api/chat") == []


def test_a_dead_backend_fails_over_to_the_next_and_cools_down(server, runtime, fakes):
    first, second = fakes("ollama", name="fo-first"), fakes("ollama", name="fo-second")
    for fake in (first, second):
        runtime.wait_synced(runtime.backend(fake, type="ollama"))
    client = openai_client(server)
    first.go_down()

    answers = [
        client.chat.completions.create(model="llama3:8b", messages=[{"role": "user", "content": str(i)}])
        .choices[0]
        .message.content
        for i in range(8)
    ]

    assert all(answer.startswith("[fo-second/") for answer in answers)
    first.come_back()


def test_a_backend_answering_5xx_mid_run_fails_over(server, runtime, fakes):
    flaky, steady = fakes("ollama", name="flaky"), fakes("ollama", name="steady")
    for fake in (flaky, steady):
        runtime.wait_synced(runtime.backend(fake, type="ollama"))
    flaky.fail_next(50, status=500)

    response = runtime.http.post("/execute", json={"prompt": "still there?"})

    assert response.status_code == 200, response.text
    assert response.json()["backend"] == "steady"
    assert response.json()["response"] == "[steady/llama3:8b] you said: still there?"


def test_no_backend_for_a_model_is_a_503_naming_the_model(server, runtime, fakes):
    runtime.wait_synced(runtime.backend(fakes("ollama", name="lonely"), type="ollama"))

    with pytest.raises(openai.InternalServerError, match="'no-such-model'"):
        openai_client(server).chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "x"}]
        )
    response = runtime.http.post("/execute", json={"prompt": "x", "model_name": "no-such-model"})
    assert response.status_code == 503
    assert response.json() == {
        "error": "no backend in any backend (no pools are defined) has model 'no-such-model'",
        "model": "no-such-model",
    }


def test_execute_and_embed_use_the_default_models(server, runtime, fakes):
    runtime.wait_synced(runtime.backend(fakes("ollama", name="defaults"), type="ollama"))

    executed = runtime.http.post("/execute", json={"prompt": "what is 2+2"}).json()
    embedded = runtime.http.post("/embed", json={"text": "hello"}).json()

    assert executed["response"] == "[defaults/llama3:8b] you said: what is 2+2"
    assert (executed["model"], executed["backend"]) == ("llama3:8b", "defaults")
    assert executed["durationMs"] > 0
    assert len(embedded["vector"]) == 32
    assert runtime.http.get("/defaultmodel").json() == {"modelName": "llama3:8b"}


def test_a_down_backend_shows_its_error_and_never_breaks_the_listing(server, runtime, fakes):
    up, down = fakes("ollama", name="st-up"), fakes("ollama", name="st-down")
    backend_up, backend_down = runtime.backend(up, type="ollama"), runtime.backend(down, type="ollama")
    down.go_down()
    runtime.wait_synced(backend_up), runtime.wait_synced(backend_down)

    listing = {b["name"]: b for b in runtime.http.get("/backends").json()}
    state = {b["name"]: b for b in runtime.http.get("/state").json()}

    assert listing["st-up"]["models"] and "error" not in listing["st-up"]
    assert listing["st-down"]["error"]
    assert state["st-down"]["error"] and state["st-up"]["pulledModels"][0]["canChat"] is True
    pulled = {m["model"]: m for m in listing["st-up"]["pulledModels"]}
    assert pulled["nomic-embed-text:latest"]["canEmbed"] is True
    assert pulled["llama3:8b"]["contextLength"] == 8192
    down.come_back()
