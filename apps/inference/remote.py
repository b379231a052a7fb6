"""The runtime process as other processes of this installation reach it (the admin in the web
server, the `local` backend's registration): over HTTP on the runtime port, with this
installation's first environment API key when one is set."""

from typing import Any

import httpx
from django.conf import settings

from apps.core.errors import Unavailable

TIMEOUT_S = 5.0


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
