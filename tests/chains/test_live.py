"""Task chains on a real server: daphne answering POST /tasks (a sync view that calls models from
under ASGI) and a django-q2 worker running `?async=true` chains, against a fake Ollama and a hook server."""

import time

import httpx
import pytest

from tests.chains.conftest import chain_of, step
from tests.fakes.backends_ollama import FakeOllama

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def live(modelyard_server, hook_server):
    fake = FakeOllama(name="chains-live").start()
    with httpx.Client(base_url=modelyard_server.url, timeout=30) as http:
        assert http.post("/backends", json={"name": fake.name, "baseUrl": fake.url, "type": "ollama"}).is_success
        assert http.post("/hooks/remote", json={"name": "shout", "endpointUrl": hook_server.url}).is_success
        yield http, fake, hook_server
    fake.stop()


def live_chain() -> dict:
    hook = {"type": "shout", "args": {"text": "{{ .ask }}"}}
    return chain_of(
        step("ask", "raw_string", "call", prompt_template="Hello {{ .input }}", execute_config={"model": "llama3:8b"}),
        step("call", "hook", hook=hook),
        debug=True,
    )


def test_a_chain_answers_synchronously_through_daphne(live):
    http, fake, hooks = live
    hooks.reply = lambda request: {"output": request.json["args"]["args"]["text"].upper()}

    response = http.post("/tasks", json={"chain": [live_chain()], "input": "world", "inputType": "string"})

    assert response.status_code == 200, response.text
    assert response.json()["output"] == "[CHAINS-LIVE/LLAMA3:8B] YOU SAID: HELLO WORLD"
    assert [unit["transition"] for unit in response.json()["state"]] == ["call", "end"]
    assert response.headers["x-chain-run-id"]


def test_an_async_chain_runs_on_a_worker_and_its_job_holds_the_response(live):
    http, fake, hooks = live
    hooks.reply = lambda request: {"output": len(request.json["args"]["args"]["text"])}

    accepted = http.post("/tasks?async=true", json={"chain": live_chain(), "input": "you", "inputType": "string"})

    assert accepted.status_code == 202, accepted.text
    deadline = time.monotonic() + 30
    while (job := http.get(accepted.json()["statusUrl"]).json())["state"] not in ("SUCCESS", "FAILURE"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["state"] == "SUCCESS", job["error"]
    assert job["result"]["output"] == len("[chains-live/llama3:8b] you said: Hello you")
    assert job["result"]["outputType"] == "int"
    assert [unit["taskID"] for unit in job["result"]["state"]] == ["ask", "call"]
