"""Routing and the gateway end to end: a real `manage.py serve`, fake backends on 127.0.0.1,
and the official `openai` client."""

import json
import time

import httpx
import openai
import pydantic
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
            MODELYARD_SSE_KEEPALIVE_S="0.3",
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
    fake = fakes("ollama", name="gw-ollama")
    backend = runtime.backend(fake, type="ollama")
    runtime.wait_synced(backend)
    client = openai_client(server)

    reply = client.chat.completions.create(
        model="llama3:8b", messages=[{"role": "user", "content": "hello"}], extra_body={"top_k": 3}
    )
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
    assert vectors.usage.prompt_tokens == 2  # the backend's count ("one", "two": a word is a token to the fake)
    assert fake.requests_to("/api/chat")[0].json["options"]["top_k"] == 3  # passed on, not dropped


def test_a_slow_streamed_chat_sends_keep_alive_comments_the_openai_client_skips(server, runtime, fakes):
    backend = runtime.backend(
        fakes("ollama", name="gw-slow", models=("slow-chat:1b",), chunk_delay_s=0.8), type="ollama"
    )
    runtime.wait_synced(backend)
    request = {"model": "slow-chat:1b", "messages": [{"role": "user", "content": "take your time"}], "stream": True}

    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=request, timeout=30) as response:
        lines = [line for line in response.iter_lines() if line]
    streamed = openai_client(server).chat.completions.create(**request)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in streamed if chunk.choices)

    assert ": keep-alive" in lines  # between tokens 0.8 s apart, with keep-alives every 0.3 s
    assert lines[-1] == "data: [DONE]"
    assert text == "[gw-slow/slow-chat:1b] you said: take your time"


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


def test_no_backend_for_a_model_is_a_404_naming_the_model(server, runtime, fakes):
    runtime.wait_synced(runtime.backend(fakes("ollama", name="lonely"), type="ollama"))

    with pytest.raises(openai.NotFoundError, match="'no-such-model'") as error:
        openai_client(server).chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "x"}]
        )
    assert (error.value.code, error.value.type) == ("model_not_found", "invalid_request_error")
    response = runtime.http.post("/execute", json={"prompt": "x", "model_name": "no-such-model"})
    assert response.status_code == 404
    assert response.json() == {"error": "no backend has model 'no-such-model'", "model": "no-such-model"}


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


# --- tools and structured output ------------------------------------------------------------------

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CHAT_MODEL = {"ollama": "llama3:8b", "openai": "gpt-4o-mini"}


@pytest.mark.parametrize("kind", ["ollama", "openai"])
def test_a_tool_call_round_trip_with_the_openai_client(server, runtime, fakes, kind):
    fake = fakes(kind, name=f"tools-{kind}")
    runtime.wait_synced(runtime.backend(fake, type=kind))
    client, model = openai_client(server), CHAT_MODEL[kind]
    messages = [{"role": "user", "content": "Paris"}]

    asked = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    message = asked.choices[0].message
    messages += [message, {"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": "18 C"}]
    answered = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])

    assert asked.choices[0].finish_reason == "tool_calls"
    assert message.content is None
    [call] = message.tool_calls
    assert (call.type, call.function.name, json.loads(call.function.arguments)) == (
        "function",
        "get_weather",
        {"city": "Paris"},
    )
    assert call.id.startswith("call_")
    assert answered.choices[0].finish_reason == "stop"
    assert answered.choices[0].message.content == f"[tools-{kind}/{model}] get_weather returned: 18 C"
    assert answered.choices[0].message.tool_calls is None


@pytest.mark.parametrize("kind", ["ollama", "openai"])
def test_a_streamed_tool_call_round_trip_with_the_openai_client(server, runtime, fakes, kind):
    fake = fakes(kind, name=f"stools-{kind}")
    runtime.wait_synced(runtime.backend(fake, type=kind))
    client, model = openai_client(server), CHAT_MODEL[kind]
    messages = [{"role": "user", "content": "Paris"}]

    calls: dict[int, dict] = {}
    finish_reasons = []
    for chunk in client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL], stream=True):
        for choice in chunk.choices:
            finish_reasons.append(choice.finish_reason)
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += delta.id or ""
                call["name"] += (delta.function and delta.function.name) or ""
                call["arguments"] += (delta.function and delta.function.arguments) or ""
    call = calls[0]
    messages += [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": call["arguments"]},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call["id"], "content": "18 C"},
    ]
    answer = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL], stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in answer if chunk.choices)

    assert list(calls) == [0]
    assert (call["name"], json.loads(call["arguments"])) == ("get_weather", {"city": "Paris"})
    assert call["id"].startswith("call_")
    assert [reason for reason in finish_reasons if reason] == ["tool_calls"]
    assert text == f"[stools-{kind}/{model}] get_weather returned: 18 C"


def test_ollama_gets_the_follow_up_turn_in_its_own_tool_format(server, runtime, fakes):
    fake = fakes("ollama", name="tools-native")
    runtime.wait_synced(runtime.backend(fake, type="ollama"))
    messages = [
        {"role": "user", "content": "Paris"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_7",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_7", "content": "18 C"},
    ]

    openai_client(server).chat.completions.create(
        model="llama3:8b", messages=messages, tools=[WEATHER_TOOL], tool_choice="auto"
    )

    body = fake.requests_to("/api/chat")[-1].json
    assert body["tools"] == [WEATHER_TOOL]
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}, "id": "call_7"}],
        },
        {"role": "tool", "content": "18 C", "tool_name": "get_weather", "tool_call_id": "call_7"},
    ]


class Weather(pydantic.BaseModel):
    city: str
    degrees: int


def test_response_format_json_schema_reaches_ollama_as_format(server, runtime, fakes):
    fake = fakes("ollama", name="structured")
    runtime.wait_synced(runtime.backend(fake, type="ollama"))

    reply = openai_client(server).chat.completions.parse(
        model="llama3:8b", messages=[{"role": "user", "content": "Paris"}], response_format=Weather
    )

    sent = fake.requests_to("/api/chat")[-1].json["format"]
    assert sent["properties"] == {
        "city": {"title": "City", "type": "string"},
        "degrees": {"title": "Degrees", "type": "integer"},
    }
    assert reply.choices[0].message.parsed == Weather(city="[structured/llama3:8b] you said: Paris", degrees=4)


def test_response_format_json_object_reaches_ollama_as_json(server, runtime, fakes):
    fake = fakes("ollama", name="json-mode")
    runtime.wait_synced(runtime.backend(fake, type="ollama"))

    reply = openai_client(server).chat.completions.create(
        model="llama3:8b", messages=[{"role": "user", "content": "hi"}], response_format={"type": "json_object"}
    )

    assert fake.requests_to("/api/chat")[-1].json["format"] == "json"
    assert json.loads(reply.choices[0].message.content) == {"answer": "[json-mode/llama3:8b] you said: hi"}


# --- invalid requests: OpenAI's 400, before any backend ---------------------------------------------


def test_a_message_content_that_is_a_number_is_a_400_with_openais_error_object(server):
    response = httpx.post(
        f"{server.url}/v1/chat/completions",
        json={"model": "llama3:8b", "messages": [{"role": "user", "content": 5}]},
        timeout=30,
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "Invalid 'messages[0].content': expected a string or an array of content parts, "
            "but got an integer instead",
            "type": "invalid_request_error",
            "param": "messages[0].content",
            "code": "invalid_type",
        }
    }


def test_the_openai_client_raises_bad_request_naming_the_parameter(server):
    with pytest.raises(openai.BadRequestError) as error:
        openai_client(server).chat.completions.create(model="llama3:8b", messages=[{"role": "user", "content": 5}])

    assert (error.value.status_code, error.value.param, error.value.code) == (
        400,
        "messages[0].content",
        "invalid_type",
    )


USER = {"role": "user", "content": "hi"}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
INVALID_CHATS = [
    ({"messages": [USER]}, "model", "missing_required_parameter", "This field is required."),
    ({"model": 5, "messages": [USER]}, "model", "invalid_type", "expected a string, but got an integer instead"),
    ({"model": "m"}, "messages", "missing_required_parameter", "This field is required."),
    ({"model": "m", "messages": []}, "messages", "invalid_value", "This list may not be empty."),
    ({"model": "m", "messages": "hi"}, "messages", "invalid_type", 'Expected a list of items but got type "str".'),
    (
        {"model": "m", "messages": [{"role": "robot", "content": "x"}]},
        "messages[0].role",
        "invalid_value",
        '"robot" is not a valid choice.',
    ),
    (
        {"model": "m", "messages": [{"content": "x"}]},
        "messages[0].role",
        "missing_required_parameter",
        "This field is required.",
    ),
    (
        {"model": "m", "messages": [{"role": "user"}]},
        "messages[0].content",
        "missing_required_parameter",
        "required on a user message",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": None}]},
        "messages[0].content",
        "invalid_type",
        "must not be null",
    ),
    (
        {"model": "m", "messages": [USER, {"role": "assistant", "content": None}]},
        "messages[1].content",
        "invalid_type",
        "must not be null without tool_calls",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": {"text": "hi"}}]},
        "messages[0].content",
        "invalid_type",
        "expected a string or an array of content parts, but got an object instead",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": []}]},
        "messages[0].content",
        "invalid_value",
        "empty array: expected at least one content part",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
        "messages[0].content[0].text",
        "invalid_type",
        "expected a string, but got an integer instead",
    ),
    (
        {"model": "m", "messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
        "messages[0].content[0].type",
        "invalid_value",
        "'image_url' is not a content part of a system message: expected one of text",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": ["hi"]}]},
        "messages[0].content[0]",
        "invalid_type",
        "expected an object, but got a string instead",
    ),
    (
        {"model": "m", "messages": [USER, {"role": "tool", "content": "18 C"}]},
        "messages[1].tool_call_id",
        "missing_required_parameter",
        "required on a tool message",
    ),
    (
        {"model": "m", "messages": [USER, {"role": "tool", "tool_call_id": "call_9", "content": "18 C"}]},
        "messages[1].tool_call_id",
        "invalid_value",
        "answers no tool call of an earlier assistant message",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": "x", "tool_calls": [CALL]}]},
        "messages[0].tool_calls",
        "invalid_value",
        "only an assistant message may have it",
    ),
    (
        {
            "model": "m",
            "messages": [{"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function"}]}],
        },
        "messages[0].tool_calls[0].function",
        "missing_required_parameter",
        "This field is required.",
    ),
    (
        {"model": "m", "messages": [{"role": "function", "content": "x"}]},
        "messages[0].name",
        "missing_required_parameter",
        "required on a function message",
    ),
    (
        {"model": "m", "messages": [USER], "temperature": 3},
        "temperature",
        "invalid_value",
        "Ensure this value is less than or equal to 2.",
    ),
    (
        {"model": "m", "messages": [USER], "temperature": "0.5"},
        "temperature",
        "invalid_type",
        "expected a number, but got a string instead",
    ),
    (
        {"model": "m", "messages": [USER], "max_tokens": 0},
        "max_tokens",
        "invalid_value",
        "Ensure this value is greater than or equal to 1.",
    ),
    (
        {"model": "m", "messages": [USER], "max_tokens": 10**30},
        "max_tokens",
        "invalid_value",
        "Ensure this value is less than or equal to 2147483647.",
    ),
    (
        {"model": "m", "messages": [USER], "max_tokens": 1.5},
        "max_tokens",
        "invalid_type",
        "expected an integer, but got a decimal number instead",
    ),
    ({"model": "m", "messages": [USER], "n": 2}, "n", "invalid_value", "Ensure this value is less than or equal to 1."),
    (
        {"model": "m", "messages": [USER], "stop": [1]},
        "stop[0]",
        "invalid_type",
        "expected a string, but got an integer instead",
    ),
    (
        {"model": "m", "messages": [USER], "stop": 5},
        "stop",
        "invalid_type",
        "expected a string or an array of strings, but got an integer instead",
    ),
    (
        {"model": "m", "messages": [USER], "stream": "yes"},
        "stream",
        "invalid_type",
        "expected a boolean, but got a string instead",
    ),
    (
        {"model": "m", "messages": [USER], "tools": [{"type": "function", "function": {"name": "get weather"}}]},
        "tools[0].function.name",
        "invalid_value",
        "must be 1-64 of a-z, A-Z, 0-9, _ and -",
    ),
    (
        {"model": "m", "messages": [USER], "tools": [{"type": "retrieval", "function": {"name": "x"}}]},
        "tools[0].type",
        "invalid_value",
        '"retrieval" is not a valid choice.',
    ),
    (
        {"model": "m", "messages": [USER], "tools": [WEATHER_TOOL], "tool_choice": "sometimes"},
        "tool_choice",
        "invalid_value",
        "'sometimes' is not one of none, auto, required",
    ),
    (
        {"model": "m", "messages": [USER], "tool_choice": "required"},
        "tool_choice",
        "invalid_value",
        "only allowed when tools are given",
    ),
    (
        {
            "model": "m",
            "messages": [USER],
            "tools": [WEATHER_TOOL],
            "tool_choice": {"type": "function", "function": {"name": "get_time"}},
        },
        "tool_choice",
        "invalid_value",
        "names function 'get_time', which is not in tools",
    ),
    (
        {"model": "m", "messages": [USER], "response_format": {"type": "xml"}},
        "response_format.type",
        "invalid_value",
        '"xml" is not a valid choice.',
    ),
    (
        {"model": "m", "messages": [USER], "response_format": {"type": "json_schema"}},
        "response_format.json_schema",
        "missing_required_parameter",
        "required when type is json_schema",
    ),
    (
        {
            "model": "m",
            "messages": [USER],
            "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": []}},
        },
        "response_format.json_schema.schema",
        "invalid_type",
        "expected an object, but got an array instead",
    ),
]


@pytest.mark.parametrize(("body", "param", "code", "problem"), INVALID_CHATS)
def test_an_invalid_chat_request_is_a_400_naming_the_parameter(server, body, param, code, problem):
    response = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=30)

    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": {
            "message": f"Invalid '{param}': {problem}",
            "type": "invalid_request_error",
            "param": param,
            "code": code,
        }
    }


INVALID_EMBEDDINGS = [
    ({"input": "hi"}, "model", "missing_required_parameter", "This field is required."),
    ({"model": "e"}, "input", "missing_required_parameter", "This field is required."),
    (
        {"model": "e", "input": 5},
        "input",
        "invalid_type",
        "expected a string, an array of strings, an array of integers or an array of integer arrays, "
        "but got an integer instead",
    ),
    ({"model": "e", "input": ["a", 1]}, "input[1]", "invalid_type", "expected a string, but got an integer instead"),
    ({"model": "e", "input": []}, "input", "invalid_value", "must not be empty, nor hold an empty input"),
    ({"model": "e", "input": ""}, "input", "invalid_value", "must not be empty, nor hold an empty input"),
    (
        {"model": "e", "input": "x", "encoding_format": "int8"},
        "encoding_format",
        "invalid_value",
        '"int8" is not a valid choice.',
    ),
]


@pytest.mark.parametrize(("body", "param", "code", "problem"), INVALID_EMBEDDINGS)
def test_an_invalid_embeddings_request_is_a_400_naming_the_parameter(server, body, param, code, problem):
    response = httpx.post(f"{server.url}/v1/embeddings", json=body, timeout=30)

    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": {
            "message": f"Invalid '{param}': {problem}",
            "type": "invalid_request_error",
            "param": param,
            "code": code,
        }
    }


def test_a_body_that_is_not_json_is_a_400_with_openais_error_object(server):
    response = httpx.post(
        f"{server.url}/v1/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, "invalid_json")
    assert error["message"].startswith("We could not parse the JSON body of your request")


def test_a_clients_mistakes_never_reach_nor_count_against_a_backend(server, runtime, fakes):
    fake = fakes("ollama", name="untouched")
    runtime.wait_synced(runtime.backend(fake, type="ollama"))

    statuses = [
        httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=30).status_code for body, *_ in INVALID_CHATS
    ]
    statuses += [
        httpx.post(f"{server.url}/v1/embeddings", json=body, timeout=30).status_code for body, *_ in INVALID_EMBEDDINGS
    ]

    assert set(statuses) == {400}
    # Only the state sync may have asked it something (what it has), never a chat or an embedding.
    assert {request.path for request in fake.requests} <= {"/api/tags", "/api/show"}
    reply = openai_client(server).chat.completions.create(model="llama3:8b", messages=[USER])
    assert reply.choices[0].message.content == "[untouched/llama3:8b] you said: hi"
    assert "error" not in runtime.http.get("/backends").json()[0]
