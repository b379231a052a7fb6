"""`manage.py serve` with the model runtime: the packaged models are put in the store with no network,
the runtime is registered as the `local` backend of the `default` pool, the official `openai` client
gets "Paris" from SmolLM2 through the gateway, and serve restarts the runtime when it dies."""

import time

import httpx
import psutil
import pytest
from openai import OpenAI

from apps.inference.defaults import DEFAULT_CHAT_MODEL, DEFAULT_EMBED_MODEL
from tests.fakes.servers import LiveServer, free_port, start_live_server

pytestmark = [pytest.mark.e2e, pytest.mark.ml]


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := condition():
                return result
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def runtime_process(server: LiveServer) -> psutil.Process | None:
    for child in psutil.Process(server.process.pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "runtime" in child.cmdline():
                return child
        except psutil.Error:
            continue
    return None


@pytest.mark.django_db(transaction=True)
def test_serve_answers_paris_from_the_packaged_smollm2_through_the_gateway_and_restarts_a_dead_runtime(tmp_path):
    port = free_port()
    server = start_live_server(
        tmp_path / "serve.log", MODELYARD_RUNTIME_PORT=str(port), MODELYARD_RUNTIME_REGISTER="true"
    )
    runtime_url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{runtime_url}/health").status_code == 200, 60, "the runtime to answer")
        backends = wait_until(
            lambda: (
                (found := httpx.get(f"{server.url}/backends").json())
                and {DEFAULT_CHAT_MODEL, DEFAULT_EMBED_MODEL} <= set(found[0]["models"])
                and found
            ),
            90,
            "the local backend to report the packaged models (registration, then a sync)",
        )
        client = OpenAI(base_url=f"{server.url}/v1", api_key="not-needed-on-loopback", max_retries=0, timeout=300)

        answer = client.chat.completions.create(
            model=DEFAULT_CHAT_MODEL,
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            temperature=0,
            max_tokens=20,
        )
        embedded = client.embeddings.create(model=DEFAULT_EMBED_MODEL, input=["hello", "world"])
        direct = httpx.post(
            f"{runtime_url}/v1/embeddings", json={"model": DEFAULT_EMBED_MODEL, "input": "hello"}
        ).json()
        health = httpx.get(f"{runtime_url}/health").json()

        first = runtime_process(server)
        first.kill()
        wait_until(lambda: (p := runtime_process(server)) is not None and p.pid != first.pid and p, 30, "a new runtime")
        wait_until(lambda: httpx.get(f"{runtime_url}/health").status_code == 200, 60, "the new runtime to answer")
    finally:
        exit_code = server.stop()

    assert [(b["name"], b["type"]) for b in backends] == [("local-runtime", "local")]
    assert "Paris" in answer.choices[0].message.content
    assert answer.usage.completion_tokens > 0
    assert [len(item.embedding) for item in embedded.data] == [384, 384]
    # the local backend fetches base64 float32 from the runtime: its float answer (batched with "world" here)
    assert embedded.data[0].embedding == pytest.approx(direct["data"][0]["embedding"], abs=1e-5)
    assert health["loaded_models"] == 2  # loaded in the runtime process, not the web server
    assert exit_code == 0, server.log()
    assert "model runtime was killed by SIGKILL" in server.log()
