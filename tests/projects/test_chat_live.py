"""Project chat streams on a real server (`manage.py serve`, daphne): the `openai` client's stream,
a backend that dies mid-stream, and a client that hangs up — which must stop the backend's generation.

The model endpoint is a fake OpenAI-compatible server in this process; it counts the chunks it
produced, so a stream that kept being generated after the client left would show."""

import json
import time

import httpx
import openai
import pytest

from apps.projects.models import ChatSession, EventLog
from tests.fakes.backends_common import FakeModel, thinking_text
from tests.fakes.backends_openai import FakeOpenAI
from tests.fakes.servers import start_live_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NS, NAME = "acme", "streams"
BASE = f"/v1/projects/{NS}/{NAME}"
HELLO = [{"role": "user", "content": "Hello!"}]


class CountingOpenAI(FakeOpenAI):
    """The fake OpenAI server, counting the streamed chunks it has produced (one pause before each)."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        self.produced = 0

    async def pause(self, seconds: float | None = None) -> None:
        self.produced += 1
        await super().pause(seconds)


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        live = start_live_server(tmp_path_factory.mktemp("chat") / "serve.log", MODELYARD_BACKEND_TIMEOUT="5")
    yield live
    live.stop()
    assert "Traceback" not in live.log(), live.log()[-3000:]


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def project_on(http: httpx.Client, fake: FakeOpenAI, *, provider: str = "openai", model: str = "gpt-4o-mini") -> None:
    """A project whose only model is `fake`'s `model`."""
    assert http.post(f"/v1/projects/{NS}", json={"name": NAME, "config_template": "server"}).status_code == 200
    config = http.get(BASE).json()["project"]["config"]
    config["runtime"] = {
        "default_model": "fast",
        "models": [{"name": "fast", "provider": provider, "model": model, "base_url": f"{fake.url}/v1"}],
    }
    assert http.put(BASE, json={"config": config}).status_code == 200


def test_the_openai_client_streams_a_turn_that_the_session_keeps(server, http):
    with CountingOpenAI(name="live-llm", models=["gpt-4o-mini"], chunk_delay_s=0.01) as fake:
        project_on(http, fake)
        client = openai.OpenAI(base_url=f"{server.url}{BASE}", api_key="unused", max_retries=0, timeout=30)

        raw = client.chat.completions.with_raw_response.create(model="fast", messages=HELLO, stream=True)
        session_id = raw.headers["X-Session-ID"]
        chunks = list(raw.parse())

    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == fake.reply(model="gpt-4o-mini", prompt="Hello!")
    assert len([chunk for chunk in chunks if chunk.choices and chunk.choices[0].delta.content]) > 1
    assert chunks[-1].choices == [] and chunks[-1].model_extra["rag_sources"] == []
    history = http.get(f"{BASE}/chat/sessions/{session_id}/history").json()
    assert history == {"messages": [*HELLO, {"role": "assistant", "content": text}]}


def test_a_streamed_answer_with_think_sends_the_thinking_as_reasoning_content_deltas_first(server, http):
    qwen = FakeModel(name="qwen3", capabilities=("completion", "thinking"))
    with CountingOpenAI(name="live-vllm", models=[qwen], flavor="vllm") as fake:
        project_on(http, fake, provider="vllm", model="qwen3")
        client = openai.OpenAI(base_url=f"{server.url}{BASE}", api_key="unused", max_retries=0, timeout=30)
        stream = client.chat.completions.create(
            model="fast", messages=HELLO, stream=True, extra_body={"think": True}, extra_headers={"X-No-Session": "1"}
        )
        deltas = [chunk.choices[0].delta for chunk in stream if chunk.choices]

    thinking = "".join((delta.model_extra or {}).get("reasoning_content") or "" for delta in deltas)
    assert thinking == thinking_text(model="qwen3", prompt="Hello!")
    assert "".join(delta.content or "" for delta in deltas) == fake.reply(model="qwen3", prompt="Hello!")
    first_content = next(index for index, delta in enumerate(deltas) if delta.content)
    assert all(not (delta.model_extra or {}).get("reasoning_content") for delta in deltas[first_content:])


def test_a_backend_dying_mid_stream_ends_it_with_an_error_chunk_then_done(server, http):
    with CountingOpenAI(name="live-dying", models=["gpt-4o-mini"]) as fake:
        project_on(http, fake)
        fake.answer = lambda model, prompt: " ".join(["word"] * 40)
        fake.fail_mid_stream(after_chunks=3)
        body = {"messages": HELLO, "stream": True}
        with http.stream("POST", f"{BASE}/chat/completions", json=body, headers={"X-No-Session": "1"}) as response:
            assert response.status_code == 200
            items = [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]

    assert items[-1] == "[DONE]"
    error = json.loads(items[-2])["error"]
    assert error["type"] == "server_error" and "failed mid-stream" in error["message"]
    assert json.loads(items[1])["choices"][0]["delta"]["content"]  # content came before the failure
    event = EventLog.objects.get(type="inference")
    assert event.status == "failed" and "failed mid-stream" in event.data["error"]
    assert [sub.name for sub in event.sub_events.all()][-2:] == ["first_token", "failed"]


def test_a_client_that_disconnects_stops_the_backends_generation(server, http):
    with CountingOpenAI(name="live-slow", models=["gpt-4o-mini"], chunk_delay_s=0.1) as fake:
        project_on(http, fake)
        fake.answer = lambda model, prompt: " ".join(["word"] * 200)  # 200 chunks: 20 s if left running
        body = {"messages": HELLO, "stream": True}
        with http.stream("POST", f"{BASE}/chat/completions", json=body) as response:
            session_id = response.headers["X-Session-ID"]
            received = 0
            for line in response.iter_lines():
                received += '"content": "word' in line or '"content":"word' in line
                if received >= 3:
                    break
        # Hung up after 3 chunks: the server cancels the stream and closes the backend's request.
        time.sleep(1.5)
        produced = fake.produced
        time.sleep(1.0)

        assert fake.produced == produced < 60
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not EventLog.objects.filter(type="inference", status="failed").exists():
        time.sleep(0.1)
    event = EventLog.objects.get(type="inference")
    assert event.status == "failed" and "disconnected" in event.data["error"]
    # Nothing of the unfinished turn is stored.
    assert not ChatSession.objects.get(session_id=session_id).messages.exists()
