"""A project's chat completions with the official `openai` client (in-process, the test database),
against a fake OpenAI-compatible server registered as the project's model endpoints. Streams are
in test_chat_live.py (a real server: an in-process WSGI client cannot relay an async stream).

What the fake received is the evidence: which messages (prompts, history, RAG context) and which
options reached the backend. The answers' shapes are OpenAI's plus `rag_sources` and `thinking`."""

import openai
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.backends import routing
from apps.projects.models import EventLog
from tests.fakes.backends_common import FakeModel, thinking_text
from tests.fakes.backends_openai import FakeOpenAI
from tests.projects.chats import configure, endpoint_model, project_openai_client
from tests.projects.runs import run_task
from tests.rag.conftest import fake_embedder, openai_database  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

NS, NAME = "my-org", "chatbot"
BASE = f"/v1/projects/{NS}/{NAME}"
HELPFUL = {"role": "system", "content": "You are a helpful assistant."}
EXPERT = {"role": "system", "content": "You are a volcanologist. Answer in one sentence."}
HELLO = [{"role": "user", "content": "Hello!"}]
BASIC = {"name": "basic", "type": "BasicSimilarityStrategy", "config": {"top_k": 3}, "default": True}
NOTES = {
    "volcanoes.txt": "Ash clouds from erupting volcanoes can stop jet engines.",
    "tea.txt": "Green tea is brewed with water at about 80 degrees.",
}


@pytest.fixture
def fake():
    with FakeOpenAI(name="project-llm", models=["gpt-4o-mini", "gpt-4o"]) as server:
        routing.routing_health_reset()
        yield server


@pytest.fixture
def project(client, make_project, fake) -> None:
    make_project(NAME, namespace=NS, template="server")
    configure(
        client,
        BASE,
        models=[
            endpoint_model(fake, "fast", "gpt-4o-mini", description="Fast model"),
            endpoint_model(fake, "smart", "gpt-4o", prompts=["expert"]),
        ],
        prompts=[{"name": "default", "messages": [HELPFUL]}, {"name": "expert", "messages": [EXPERT]}],
        default="fast",
    )


@pytest.fixture
def chat_client() -> openai.OpenAI:
    return project_openai_client(BASE)


def sent_messages(fake: FakeOpenAI) -> list[dict]:
    (request,) = fake.requests_to("/v1/chat/completions")
    return request.json["messages"]


# --- completions ------------------------------------------------------------------------------------


def test_the_openai_client_gets_the_default_models_answer_with_the_projects_prompts_prepended(
    project, fake, chat_client
):
    # The openai client must send a model: an empty one means the project's default.
    raw = chat_client.chat.completions.with_raw_response.create(model="", messages=HELLO)
    completion = raw.parse()

    assert completion.object == "chat.completion" and completion.model == "gpt-4o-mini"
    assert completion.choices[0].message.content and completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens > 0
    assert completion.model_extra["rag_sources"] == []
    # Every prompt set (the default model lists none), then the request's messages.
    assert sent_messages(fake) == [HELPFUL, EXPERT, *HELLO]
    assert raw.headers["X-Session-ID"]


def test_model_picks_one_of_the_projects_models_with_only_its_prompt_sets(project, fake, chat_client):
    completion = chat_client.chat.completions.create(model="smart", messages=HELLO)

    assert completion.model == "gpt-4o"
    assert sent_messages(fake) == [EXPERT, *HELLO]


def test_an_unknown_model_is_404_naming_the_projects_models(project, client):
    response = client.post(f"{BASE}/chat/completions", {"model": "gpt-5", "messages": HELLO}, "application/json")

    assert response.status_code == 404
    assert response.json() == {"detail": "Model 'gpt-5' not found in project my-org/chatbot; models: fast, smart"}


def test_a_backend_model_id_picks_the_one_project_model_that_has_it(project, fake, chat_client):
    # OpenAI client users send the backend's model id: "gpt-4o" is the `model` of "smart" only.
    completion = chat_client.chat.completions.create(model="gpt-4o", messages=HELLO)

    assert completion.model == "gpt-4o"
    assert sent_messages(fake) == [EXPERT, *HELLO]  # smart's prompt sets: it was picked, not the default


def test_a_backend_model_id_of_several_project_models_is_404_asking_to_name_one(project, fake, client):
    configure(
        client,
        BASE,
        models=[endpoint_model(fake, "fast", "gpt-4o"), endpoint_model(fake, "smart", "gpt-4o")],
        default="fast",
    )

    response = client.post(f"{BASE}/chat/completions", {"model": "gpt-4o", "messages": HELLO}, "application/json")

    assert response.status_code == 404
    assert response.json()["detail"] == (
        "Model 'gpt-4o' is the model of several models of project my-org/chatbot (fast, smart); "
        "name one: models: fast, smart"
    )


def test_sampling_tools_and_response_format_reach_the_backend(project, fake, chat_client):
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    chat_client.chat.completions.create(
        model="fast",
        messages=HELLO,
        temperature=0.3,
        max_tokens=50,
        top_p=0.9,
        stop=["\n\n"],
        seed=7,
        tools=tools,
        tool_choice="auto",
    )
    chat_client.chat.completions.create(model="fast", messages=HELLO, response_format={"type": "json_object"})

    first, second = (request.json for request in fake.requests_to("/v1/chat/completions"))
    assert {key: first[key] for key in ("temperature", "max_tokens", "top_p", "stop", "seed", "tool_choice")} == {
        "temperature": 0.3,
        "max_tokens": 50,
        "top_p": 0.9,
        "stop": ["\n\n"],
        "seed": 7,
        "tool_choice": "auto",
    }
    assert first["tools"] == tools
    assert second["response_format"] == {"type": "json_object"}


def test_top_k_reaches_a_backend_that_takes_it(client, make_project):
    with FakeOpenAI(name="vllm", models=["qwen"], flavor="vllm") as vllm:
        make_project(NAME, namespace=NS, template="server")
        configure(
            client, BASE, models=[{"name": "q", "provider": "vllm", "model": "qwen", "base_url": f"{vllm.url}/v1"}]
        )
        response = client.post(
            f"{BASE}/chat/completions", {"messages": HELLO, "top_k": 20}, "application/json", HTTP_X_NO_SESSION="1"
        )
        assert response.status_code == 200, response.content
        assert vllm.requests_to("/v1/chat/completions")[0].json["top_k"] == 20


def test_think_gives_the_specs_thinking_object_from_a_reasoning_model(client, make_project):
    qwen = FakeModel(name="qwen3", capabilities=("completion", "thinking"))
    with FakeOpenAI(name="vllm", models=[qwen], flavor="vllm") as vllm:
        make_project(NAME, namespace=NS, template="server")
        configure(
            client, BASE, models=[{"name": "q", "provider": "vllm", "model": "qwen3", "base_url": f"{vllm.url}/v1"}]
        )
        ask = {"messages": [{"role": "user", "content": "What is 15% of 85?"}], "max_tokens": 200}

        thought = client.post(f"{BASE}/chat/completions", {**ask, "think": True}, "application/json").json()
        plain = client.post(f"{BASE}/chat/completions", {**ask, "think": False}, "application/json").json()

    assert thought["thinking"]["content"] == thinking_text(model="qwen3", prompt="What is 15% of 85?")
    assert thought["thinking"]["tokens"] > 0
    assert thought["choices"][0]["message"]["content"] and "thinks>" not in thought["choices"][0]["message"]["content"]
    assert "thinking" not in plain
    bodies = [request.json for request in vllm.requests_to("/v1/chat/completions")]
    assert [body["chat_template_kwargs"] for body in bodies] == [{"enable_thinking": True}, {"enable_thinking": False}]


def test_a_backend_that_is_down_before_the_answer_is_503_with_detail(project, fake, client):
    fake.go_down()

    response = client.post(f"{BASE}/chat/completions", {"messages": HELLO, "stream": True}, "application/json")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert "is unavailable" in response.json()["detail"]
    event = EventLog.objects.get(type="inference")
    assert event.status == "failed" and "is unavailable" in event.data["error"]


def test_each_completion_is_an_inference_event_with_timed_sub_events(project, fake, chat_client):
    chat_client.chat.completions.create(model="smart", messages=HELLO)

    event = EventLog.objects.get(type="inference")
    assert event.status == "completed" and event.summary["model"] == "gpt-4o"
    names = [sub.name for sub in event.sub_events.all()]
    assert names == ["request_received", "inference_start", "inference_complete"]
    elapsed = [sub.elapsed_ms for sub in event.sub_events.all()]
    assert elapsed == sorted(elapsed)


def test_an_unknown_database_is_404_never_rag_silently_off(project, client):
    body = {"messages": HELLO, "rag_enabled": True, "database": "nowhere"}

    response = client.post(f"{BASE}/chat/completions", body, "application/json")

    assert response.status_code == 404
    assert response.json()["detail"] == "Database 'nowhere' not found in project my-org/chatbot; databases: none"


def test_invalid_fields_are_422_with_their_path(project, client):
    body = {"messages": [{"role": "wizard", "content": "hi"}], "rag_top_k": 0}

    response = client.post(f"{BASE}/chat/completions", body, "application/json")

    assert response.status_code == 422
    locations = {tuple(item["loc"]) for item in response.json()["detail"]}
    assert ("body", "messages", 0, "role") in locations and ("body", "rag_top_k") in locations


# --- models -----------------------------------------------------------------------------------------


def test_the_models_list_shows_the_projects_models_and_the_default(project, fake, client):
    body = client.get(f"{BASE}/models").json()

    assert body == {
        "total": 2,
        "models": [
            {
                "name": "fast",
                "provider": "openai",
                "model": "gpt-4o-mini",
                "base_url": f"{fake.url}/v1",
                "default": True,
                "description": "Fast model",
            },
            {
                "name": "smart",
                "provider": "openai",
                "model": "gpt-4o",
                "base_url": f"{fake.url}/v1",
                "default": False,
                "description": "",
            },
        ],
    }


# --- RAG sub-queries (a fake embedder; real MiniLM retrieval is test_chat_rag.py) -------------------


@pytest.fixture
def notes(client, make_project, fake, fake_embedder) -> None:  # noqa: F811
    """A rag-template project answering with `fake`, whose database notes_db (embedded by the fake
    embedder) holds two short notes."""
    make_project(NAME, namespace=NS, template="rag")
    configure(client, BASE, models=[endpoint_model(fake, "fast", "gpt-4o-mini")])
    database = {**openai_database(fake_embedder, name="notes_db"), "retrieval_strategies": [BASIC]}
    assert client.post(f"{BASE}/rag/databases", database, "application/json").status_code == 201
    dataset = {"name": "notes", "data_processing_strategy": "universal_processor", "database": "notes_db"}
    assert client.post(f"{BASE}/datasets", dataset, "application/json").status_code == 200
    for filename, text in NOTES.items():
        file = SimpleUploadedFile(filename, text.encode())
        assert client.post(f"{BASE}/datasets/notes/data", {"file": file}).status_code == 200
    accepted = client.post(f"{BASE}/datasets/notes/actions", {"action_type": "process"}, "application/json")
    run_task(accepted.json()["task_id"])


@pytest.mark.django_db(transaction=True)  # sub-queries run in threads of their own: committed data
def test_a_failed_rag_sub_query_is_in_the_event_log_and_the_others_answer(notes, fake_embedder, chat_client):  # noqa: F811
    fake_embedder.fail_next(1, status=500, path="/v1/embeddings")
    queries = ["volcano ash clouds", "brewing green tea"]

    answer = chat_client.chat.completions.create(
        model="fast", messages=HELLO, extra_body={"database": "notes_db", "rag_queries": queries}
    )

    assert answer.model_extra["rag_sources"]
    event = EventLog.objects.get(type="inference")
    (failed,) = [sub.data for sub in event.sub_events.all() if sub.name == "rag_subquery_failed"]
    assert failed["query"] in queries and "cannot embed the query" in failed["error"]
    assert event.status == "completed"


@pytest.mark.django_db(transaction=True)
def test_when_every_rag_sub_query_fails_the_chat_is_503_with_the_reason(notes, fake_embedder, client):  # noqa: F811
    fake_embedder.fail_next(2, status=500, path="/v1/embeddings")
    body = {"messages": HELLO, "database": "notes_db", "rag_queries": ["volcano ash clouds", "brewing green tea"]}

    response = client.post(f"{BASE}/chat/completions", body, "application/json")

    assert response.status_code == 503
    assert "cannot embed the query" in response.json()["detail"]
    assert EventLog.objects.get(type="inference").status == "failed"
