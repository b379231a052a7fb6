"""Talking to other nodes' node surfaces (the spec's scheduler pattern): health, hardware, top models."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from django.core.exceptions import ValidationError

from apps.core.validation import header_value_validate

TOP_MODEL_FIELDS = (
    "name",
    "fit_level",
    "run_mode",
    "score",
    "estimated_tps",
    "best_quant",
    "memory_required_gb",
    "memory_available_gb",
    "runtime",
)


class NodeUnreachable(Exception):
    """No answer: refused, timed out, name not resolved."""


class NodeBadAnswer(Exception):
    """It answered, but not as a node surface does (an error status, a body that is not the spec's)."""


@dataclass(frozen=True)
class NodeReport:
    name: str
    os: str
    system: dict[str, Any]
    top_models: list[dict[str, Any]]
    latency_ms: float


def node_fetch(*, url: str, api_key: str = "", timeout: float = 5.0, top: int = 5) -> NodeReport:
    """Poll one node: `/health`, `/api/v1/system`, then `/api/v1/models/top?limit=K&min_fit=good`.

    The hardware kept is the `system` of the top listing: the snapshot the node scored its models with.
    `/api/v1/system` shows available RAM read live, which near a fit threshold can differ from it, and the
    cluster view scores the node's listings with what it keeps (an answer without one falls back to it)."""
    try:
        header_value_validate(api_key)
    except ValidationError:
        # Only a row saved before keys were checked can hold one: an error status, not a crash.
        raise NodeBadAnswer("its api_key is not printable ASCII and cannot be sent; edit the node") from None
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    started = time.monotonic()
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout) as client:
        health = _get(client, "/health")
        latency_ms = (time.monotonic() - started) * 1000
        system = _get(client, "/api/v1/system")
        top_models = _get(client, "/api/v1/models/top", params={"limit": top, "min_fit": "good"})
    try:
        node = health["node"]
        report = NodeReport(
            name=str(node["name"]),
            os=str(node.get("os", "")),
            system=dict(top_models.get("system") or system["system"]),
            top_models=[{key: model.get(key) for key in TOP_MODEL_FIELDS} for model in top_models["models"]],
            latency_ms=round(latency_ms, 1),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise NodeBadAnswer(f"not a node surface answer: {type(error).__name__}: {error}") from None
    return report


def _get(client: httpx.Client, path: str, params: dict[str, Any] | None = None) -> Any:
    try:
        response = client.get(path, params=params)
    except httpx.TransportError as error:
        raise NodeUnreachable(f"{type(error).__name__}: {error}".rstrip(": ")) from None
    if response.status_code != 200:
        detail = response.text[:200].strip()
        raise NodeBadAnswer(f"GET {path} answered {response.status_code}: {detail}")
    try:
        return response.json()
    except ValueError:
        raise NodeBadAnswer(f"GET {path} did not answer JSON") from None
