"""Reads that are more than a one-line queryset."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime

from apps.backends import routing
from apps.backends.downloads import PULLS_GROUP
from apps.backends.models import Backend, Pool, RegisteredModel, RuntimeSettings
from apps.backends.naming import normalized
from apps.backends.routing_table import routing_table
from apps.core import events
from apps.core.errors import DomainError, NotFound
from apps.modelstore import owners
from apps.modelstore import services as modelstore
from apps.modelstore.units import human_size_decimal

# Clients give up on a silent stream after their read timeout (often 5-10 s): a comment at least this often.


def pools_by_purpose(*, purpose: str, cursor: datetime | None = None, limit: int = 100) -> QuerySet[Pool]:
    """Pools of one purpose, newest first; `cursor` pages to those created before it."""
    pools = Pool.objects.filter(purpose_type=purpose).order_by("-created_at")
    if cursor is not None:
        pools = pools.filter(created_at__lt=cursor)
    return pools[:limit]


def models_openai_list() -> dict[str, Any]:
    """GET /models: the declared models as OpenAI lists them (the spec puts the name in `object`)."""
    return {
        "object": "list",
        "data": [
            {
                "id": model.model,
                "object": model.model,
                "created": int(model.created_at.timestamp()),
                "owned_by": "system",
            }
            for model in RegisteredModel.objects.all()
        ],
    }


EPOCH = datetime.fromtimestamp(0, UTC)  # when neither the registry nor the backend tells a date


def models_catalog(*, provider: str | None = None) -> list[dict[str, Any]]:
    """`GET /v1/models` on the platform: one list for OpenAI's clients and the models cache's.

    Every model a pool can route now and every stored model, one entry per id, each with OpenAI's
    `id`/`object`/`created`/`owned_by` and the cache's `model_id`/`size_bytes`/`size_human`/
    `last_modified`/`revisions`. A routable entry names its `backends`; a stored one its `source`.
    An entry without `backends` cannot be chatted with: the gateway answers why. With a
    `provider` ("universal" or a store source) it is the models cache's list alone, as its spec shows.
    """
    if provider is not None:
        return modelstore.cache_list(provider=provider)
    entries = {entry["id"]: entry for entry in reversed(modelstore.cache_list())}  # first source wins
    for name, served in _routable_models().items():
        entries[name] = {**_routable_entry(name, served), **entries.get(name, {}), "backends": served["backends"]}
    return [entries[name] for name in sorted(entries)]


def model_catalog_entry(*, model_id: str) -> dict[str, Any]:
    """`GET /v1/models/{id}`: one entry of `models_catalog`, by its id, else by Ollama's spelling of
    it (`mistral` finds an Ollama's `mistral:latest`)."""
    entries = {entry["id"]: entry for entry in models_catalog()}
    entry = entries.get(model_id) or entries.get(normalized(model_id))
    if entry is None:
        owned = owners.owned_ids().get(model_id)
        why = f"it is {owned}" if owned else "no pool can route it and it is not in the model store"
        raise routing.ModelNotFound(f"model {model_id!r} not found: {why}", model=model_id)
    return entry


def _routable_models() -> dict[str, dict[str, Any]]:
    """The models some backend can serve under the routing rules, with what those backends report.

    Each is listed under its backend's own id (`Route.model_ids`): an OpenAI-compatible backend's
    as it lists it, an Ollama's with its tag; routing maps the id back to each backend's own name.
    """
    table = routing_table()
    pulled = {
        (str(backend.id), state["model"]): state for backend in Backend.objects.all() for state in backend.state_models
    }
    created = {normalized(model.model): model.created_at for model in RegisteredModel.objects.all()}
    routable = {}
    for name in sorted({model_id for route in table.routes for model_id in route.model_ids}):
        try:
            routes = sorted(routing.candidates(table, name), key=lambda route: route.name)
        except DomainError:
            continue
        states = [
            pulled[(route.backend_id, own)]
            for route in routes
            if (own := route.own_name(name)) is not None and (route.backend_id, own) in pulled
        ]
        routable[name] = {
            "backends": [route.name for route in routes],
            "types": sorted({route.type for route in routes}),
            "state": states[0] if states else {},
            "created": created.get(normalized(name)),
        }
    return routable


def _routable_entry(name: str, served: dict[str, Any]) -> dict[str, Any]:
    state = served["state"]
    size = state.get("size") or 0
    modified = parse_datetime(state["modifiedAt"]) if state.get("modifiedAt") else None
    moment = served["created"] or modified or EPOCH
    return {
        "model_id": name,
        "size_bytes": size,
        "size_human": human_size_decimal(size),
        "last_modified": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "revisions": ["main"],
        "id": name,
        "object": "model",
        "created": int(moment.timestamp()),
        "owned_by": ",".join(served["types"]),
    }


async def pull_status_stream() -> AsyncIterator[tuple[str, dict] | None]:
    """Every running pull's status lines, as they come, until the client goes away.

    A None item at once is a keep-alive comment, so the client sees the stream open even when
    nothing is downloading; the response (`core.sse.sse_response`) sends the later ones.
    """
    async with events.subscription(PULLS_GROUP) as receive:
        yield None
        while True:
            message = await receive(timeout=60)
            if message is not None:
                yield message


def default_model_name() -> str:
    """The model of `POST /execute`: the admin's runtime setting, else MODELYARD_DEFAULT_MODEL."""
    return _runtime_model(field="default_model", setting="MODELYARD_DEFAULT_MODEL", what="default model")


def embed_model_name() -> str:
    """The model of `POST /embed`: the admin's runtime setting, else MODELYARD_EMBED_MODEL."""
    return _runtime_model(field="embed_model", setting="MODELYARD_EMBED_MODEL", what="embedding model")


def _runtime_model(*, field: str, setting: str, what: str) -> str:
    chosen = getattr(RuntimeSettings.load(), field)
    name = chosen if chosen else getattr(settings, setting)
    if not name:
        raise NotFound(f"no {what} configured: set {setting} or the runtime settings in the admin")
    return name


default_model_name_async = sync_to_async(default_model_name)
embed_model_name_async = sync_to_async(embed_model_name)
