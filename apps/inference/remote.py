"""The runtime process as other processes of this installation reach it (the admin in the web
server, the `local` backend's registration): over HTTP on the runtime port, with this
installation's first environment API key when one is set."""

from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from apps.core.errors import Unavailable
from apps.modelstore.units import human_size_binary

TIMEOUT_S = 5.0
# A page that shows the runtime's health waits at most this long for it.
HEALTH_TIMEOUT_S = 1.0


def runtime_url() -> str:
    """Where this installation's runtime listens, as seen from this host."""
    host = settings.MODELYARD_BIND
    if host in {"0.0.0.0", "::", ""}:
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.MODELYARD_RUNTIME_PORT}"


def _request(method: str, path: str, body: dict | None = None) -> Any:
    keys = settings.MODELYARD_ENV_API_KEYS
    headers = {"Authorization": f"Bearer {keys[0]}"} if keys else {}
    try:
        response = httpx.request(method, f"{runtime_url()}{path}", json=body, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError as error:
        raise Unavailable(f"the model runtime at {runtime_url()} does not answer: {error}") from error
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        raise Unavailable(f"the model runtime answered {response.status_code}: {message}")
    return response.json()


def runtime_models() -> list[dict[str, Any]]:
    """The runtime's `GET /v1/models` items (loaded or not, memory, last use). Unavailable when it is down."""
    return _request("GET", "/v1/models")["data"]


def runtime_unload(*, model: str) -> bool:
    """Ask the runtime to unload `model`; whether it was loaded. Unavailable when it is down."""
    return bool(_request("POST", "/v1/models/unload", {"model": model})["unloaded"])


@dataclass(frozen=True)
class RuntimeHealth:
    """Whether a runtime answered `GET /health`, and what it said (or why it did not) in words."""

    answers: bool
    summary: str


def runtime_health(*, base_url: str | None = None, timeout_s: float = HEALTH_TIMEOUT_S) -> RuntimeHealth:
    """Ask the runtime at `base_url` (this installation's by default; a trailing `/v1` is ignored)
    for `GET /health`, waiting at most `timeout_s` seconds. Never raises: a runtime that is down,
    slow or answers an error is `answers=False` with the reason."""
    root = (base_url or runtime_url()).rstrip("/").removesuffix("/v1")
    try:
        response = httpx.get(f"{root}/health", timeout=timeout_s)
        body = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as error:  # ValueError: not JSON
        reason = f"no answer within {timeout_s:g} s" if isinstance(error, httpx.TimeoutException) else str(error)
        return RuntimeHealth(False, f"does not answer ({reason or type(error).__name__})")
    if not isinstance(body, dict) or body.get("status") != "ok":
        return RuntimeHealth(False, f"does not answer (/health answered {response.status_code})")
    loaded = body.get("loaded_models", 0)
    summary = f"answers: {loaded} model{'' if loaded == 1 else 's'} loaded"
    if isinstance(body.get("memory_used_bytes"), int) and isinstance(body.get("memory_budget_bytes"), int):
        used, budget = human_size_binary(body["memory_used_bytes"]), human_size_binary(body["memory_budget_bytes"])
        summary += f", {used} of {budget}"
    return RuntimeHealth(True, summary)
