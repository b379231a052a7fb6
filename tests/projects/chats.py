"""Helpers of the chat tests: a project's models and prompts set through the API, and the `openai`
client talking to a project's chat in-process."""

from collections.abc import Callable, Iterable

import httpx2
import openai
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

from tests.fakes.backends_openai import FakeOpenAI


def configure(
    client, base: str, *, models: list[dict], prompts: list[dict] | None = None, default: str | None = None
) -> dict:
    """Replace the runtime (and prompts) of the project at `base` through the API; the config as stored."""
    config = client.get(base).json()["project"]["config"]
    config["runtime"] = {"models": models, **({"default_model": default} if default else {})}
    if prompts is not None:
        config["prompts"] = prompts
    response = client.put(base, {"config": config}, "application/json")
    assert response.status_code == 200, response.content
    return response.json()["project"]["config"]


def endpoint_model(fake: FakeOpenAI, name: str, model: str, **extra) -> dict:
    """A `runtime.models[]` entry calling `fake` as an OpenAI-compatible endpoint."""
    return {"name": name, "provider": "openai", "model": model, "base_url": f"{fake.url}/v1", **extra}


class InProcessWSGIApp:
    """Django's WSGI application run as Django's test client runs it: the request cycle's
    `close_old_connections` is held off, so the test's connection (and its transaction) stays open.
    The body is read whole (an async stream cannot be relayed here: stream tests use a live server)."""

    def __init__(self) -> None:
        self.app = get_wsgi_application()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            response = self.app(environ, start_response)
            try:
                return [b"".join(response)]
            finally:
                response.close()
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


def project_openai_client(base: str) -> openai.OpenAI:
    """The official `openai` client on the project chat at `base`, in-process on the test database."""
    transport = httpx2.WSGITransport(app=InProcessWSGIApp())
    url = f"http://testserver{base}"
    return openai.OpenAI(
        base_url=url, api_key="unused", max_retries=0, http_client=httpx2.Client(transport=transport, base_url=url)
    )
