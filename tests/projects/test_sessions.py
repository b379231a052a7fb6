"""Chat sessions in Postgres: history across requests, stateless mode, expiry, history and deletes.

The fake backend's request log shows what history reached the model; the tables show what is kept."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.projects.models import ChatMessage, ChatSession
from tests.fakes.backends_openai import FakeOpenAI
from tests.projects.chats import configure, endpoint_model, project_openai_client

NS, NAME = "my-org", "chatbot"
BASE = f"/v1/projects/{NS}/{NAME}"
HELPFUL = {"role": "system", "content": "You are a helpful assistant."}

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake():
    with FakeOpenAI(name="session-llm", models=["gpt-4o-mini"]) as server:
        yield server


@pytest.fixture
def chat_client():
    return project_openai_client(BASE)


@pytest.fixture
def project(client, make_project, fake) -> None:
    make_project(NAME, namespace=NS, template="server")
    configure(client, BASE, models=[endpoint_model(fake, "fast", "gpt-4o-mini")])


def ask(chat_client, text: str, **headers: str):
    raw = chat_client.chat.completions.with_raw_response.create(
        model="fast", messages=[{"role": "user", "content": text}], extra_headers=headers
    )
    return raw.headers.get("X-Session-ID"), raw.parse().choices[0].message.content


def sent(fake: FakeOpenAI, index: int = -1) -> list[dict]:
    return fake.requests_to("/v1/chat/completions")[index].json["messages"]


def test_a_session_carries_the_history_into_the_next_request(project, fake, chat_client, client):
    session_id, first = ask(chat_client, "My name is Ada.")
    again, second = ask(chat_client, "What is my name?", **{"X-Session-ID": session_id})

    assert again == session_id
    assert sent(fake) == [
        HELPFUL,
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": first},
        {"role": "user", "content": "What is my name?"},
    ]
    history = client.get(f"{BASE}/chat/sessions/{session_id}/history").json()["messages"]
    assert history == [*sent(fake)[1:], {"role": "assistant", "content": second}]


def test_a_client_chosen_session_id_is_kept(project, chat_client):
    session_id, _ = ask(chat_client, "hi", **{"X-Session-ID": "my-own-session"})

    assert session_id == "my-own-session"
    assert ChatSession.objects.get().session_id == "my-own-session"


def test_stateless_mode_stores_nothing_and_returns_no_session_header(project, fake, chat_client):
    session_id, _ = ask(chat_client, "hi", **{"X-No-Session": "true"})
    ask(chat_client, "again", **{"X-No-Session": "true"})

    assert session_id is None
    assert sent(fake) == [HELPFUL, {"role": "user", "content": "again"}]
    assert not ChatSession.objects.exists() and not ChatMessage.objects.exists()


def test_an_expired_sessions_history_is_not_used_and_its_rows_are_deleted(project, fake, chat_client, client, settings):
    settings.MODELYARD_CHAT_SESSION_TTL_MIN = 30
    session_id, _ = ask(chat_client, "remember the number 7")
    ChatSession.objects.update(last_active_at=timezone.now() - timedelta(minutes=31))

    assert client.get(f"{BASE}/chat/sessions/{session_id}/history").status_code == 404
    assert not ChatMessage.objects.exists()  # deleted on access
    ask(chat_client, "which number?", **{"X-Session-ID": session_id})
    assert sent(fake) == [HELPFUL, {"role": "user", "content": "which number?"}]


def test_the_history_of_an_unknown_session_is_404(project, client):
    response = client.get(f"{BASE}/chat/sessions/nobody/history")

    assert response.status_code == 404
    assert response.json() == {"detail": "Session nobody not found in project my-org/chatbot"}


def test_deleting_a_session_removes_its_history(project, chat_client, client):
    session_id, _ = ask(chat_client, "hi")
    other, _ = ask(chat_client, "hello")

    response = client.delete(f"{BASE}/chat/sessions/{session_id}")

    assert response.json() == {"message": f"Session {session_id} deleted"}
    assert client.get(f"{BASE}/chat/sessions/{session_id}/history").status_code == 404
    assert client.delete(f"{BASE}/chat/sessions/{session_id}").status_code == 404
    assert set(ChatSession.objects.values_list("session_id", flat=True)) == {other}


def test_deleting_all_sessions_answers_the_true_count_and_leaves_no_rows(project, chat_client, client):
    for text in ("one", "two", "three"):
        ask(chat_client, text)

    response = client.delete(f"{BASE}/chat/sessions")

    assert response.json() == {"message": "Deleted 3 session(s)", "count": 3}
    assert not ChatSession.objects.exists() and not ChatMessage.objects.exists()
    assert client.delete(f"{BASE}/chat/sessions").json()["count"] == 0
