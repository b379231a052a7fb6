"""Pool-aware routing: which backends may serve a model, in which order, with failover.

The rules (runtime spec): when at least one pool exists, a model goes only to backends that
share a pool with it and have it; with no pools at all, to any backend that has it. Among the
candidates the least busy goes first; a connection error, timeout or 5xx moves on to the next;
a backend that failed MAX_FAILURES times in a row is skipped for a cool-down. A backend that says
it does not have the model (its list was stale: the model was evicted or deleted there) also moves
on to the next; the model is dropped from its state at once and a sync is asked for. Any other 4xx
is the client's mistake: it goes back to the client and does not count against the backend.

A model that no backend in scope has is ModelNotFound (404): a retry cannot help. One that some
backend has, but every such backend is down or failing, is Unavailable (503): a retry may.
Each backend gets the request under the name it reported itself (`Route.own_name`): Ollama's
`:latest` rule lets `mistral` reach an Ollama's `mistral:latest`, while an OpenAI-compatible
backend's ids are matched and sent exactly as it lists them.

The hot path reads an in-process snapshot of the registry (rebuilt at most every TABLE_TTL_S, at
once after a change made in this process), so a routed request costs no database query.
"""

import asyncio
import random
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings

from apps.backends.models import Backend
from apps.backends.naming import normalized
from apps.backends.providers import provider_for, provider_type_check
from apps.backends.providers.base import (
    ChatChunk,
    Provider,
    ProviderModelNotFound,
    ProviderRequestError,
    ProviderUnavailable,
)
from apps.backends.routing_table import Route, RoutingTable, routing_invalidate, routing_table_async
from apps.backends.sync import backend_model_forget, backends_sync
from apps.core.errors import DomainError, Invalid, NotFound, Unavailable

T = TypeVar("T")


class ModelNotFound(NotFound):
    """No backend in scope has the model (OpenAI's `model_not_found` on the gateway)."""


# --- backend health, per process -----------------------------------------------------------------

_failures: dict[str, int] = {}
_cooldown_until: dict[str, float] = {}
_in_flight: dict[str, int] = {}


def _record_success(route: Route) -> None:
    _failures.pop(route.backend_id, None)
    _cooldown_until.pop(route.backend_id, None)


def _record_failure(route: Route) -> None:
    failures = _failures.get(route.backend_id, 0) + 1
    _failures[route.backend_id] = failures
    if failures >= settings.MODELYARD_BACKEND_MAX_FAILURES:
        _cooldown_until[route.backend_id] = time.monotonic() + settings.MODELYARD_BACKEND_COOLDOWN


def _cooling(route: Route) -> bool:
    return _cooldown_until.get(route.backend_id, 0.0) > time.monotonic()


def routing_health_reset() -> None:
    _failures.clear()
    _cooldown_until.clear()
    _in_flight.clear()


# --- choosing candidates -------------------------------------------------------------------------


def candidates(table: RoutingTable, model: str, *, backend_type: str = "") -> list[Route]:
    """Backends that may serve `model`, best first. Raises Invalid/NotFound/ModelNotFound naming why not."""
    if backend_type:
        provider_type_check(backend_type)
    wanted = normalized(model)
    if table.pools_exist:
        pools = table.model_pools.get(wanted, frozenset())
        if not pools:
            raise ModelNotFound(
                f"model {model!r} is not in any pool: add it to a pool that has a backend serving it, or pull it "
                f"into the model store (POST /api/v1/downloads) for the model runtime to serve",
                model=model,
            )
        in_scope = [route for route in table.routes if route.pool_ids & pools]
        scope = " in pool(s) " + ", ".join(sorted(table.pool_names[pool_id] for pool_id in pools))
    else:
        in_scope = list(table.routes)
        scope = ""
    if backend_type:
        in_scope = [route for route in in_scope if route.type == backend_type]
        if not in_scope:
            # 404, not 503: nothing is down and no pull is coming; until an operator adds a backend
            # of that type a retry cannot help, and 503 tells clients (and hooks) to retry.
            where = scope if table.pools_exist else " is registered"
            raise NotFound(f"no backend of type {backend_type!r}{where}")
    having = [route for route in in_scope if route.own_name(model) is not None]
    if not having:
        kind = f"{backend_type} backend" if backend_type else "backend"
        raise ModelNotFound(f"no {kind}{scope} has model {model!r}", model=model)
    random.shuffle(having)  # ties between equally busy backends are broken at random
    return sorted(having, key=lambda route: (_cooling(route), _in_flight.get(route.backend_id, 0)))


def _unsynced_in_scope(table: RoutingTable, model: str) -> list[str]:
    pools = table.model_pools.get(normalized(model), frozenset())
    return [
        route.backend_id
        for route in table.routes
        if not route.synced and (not table.pools_exist or route.pool_ids & pools)
    ]


async def _candidates_syncing_unknown(model: str, backend_type: str) -> tuple[RoutingTable, list[Route]]:
    """Candidates; a backend never synced yet (just added) is asked what it has first."""
    table = await routing_table_async()
    try:
        return table, _candidates_explained(table, model, backend_type)
    except ModelNotFound:
        unsynced = _unsynced_in_scope(table, model)
        if not unsynced:
            raise
    await sync_to_async(_sync_backends)(unsynced)
    routing_invalidate()
    table = await routing_table_async()
    return table, _candidates_explained(table, model, backend_type)


def _candidates_explained(table: RoutingTable, model: str, backend_type: str) -> list[Route]:
    """`candidates`, saying so when the model is one no backend has but the model store does, or an
    entry another app keeps in the store (an ML classifier: where it is used instead)."""
    try:
        return candidates(table, model, backend_type=backend_type)
    except NotFound:
        if model in table.owned:
            raise ModelNotFound(f"model {model!r} is {table.owned[model]}: no backend serves it", model=model) from None
        if model not in table.stored or any(route.own_name(model) for route in table.routes):
            raise
    raise ModelNotFound(
        f"model {model!r} is in the model store, but no backend serves it: stored models are routed only "
        "through a backend that has them (register one that serves it, and add both to a pool if pools are used)",
        model=model,
    )


def _sync_backends(backend_ids: list[str]) -> None:
    backends_sync(list(Backend.objects.filter(pk__in=backend_ids)))


# --- providers, one per backend and event loop (keeps HTTP connections alive) ---------------------

# Per event loop (an HTTP client belongs to the loop it was made on), so a new loop never gets a
# client of a closed one; the providers of closed loops (sync callers' short-lived loops) are dropped.
_providers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, Provider]] = weakref.WeakKeyDictionary()


def provider_pooled(type: str, *, base_url: str, api_key: str = "") -> Provider:
    """The adapter of the backend of `type` at `base_url` kept for this event loop (made on first
    use, with the MODELYARD_BACKEND_TIMEOUT), so that its HTTP connections stay alive from one
    request to the next. Never close it: it is shared. Call from a running event loop."""
    for closed in [loop for loop in _providers if loop.is_closed()]:
        del _providers[closed]
    per_loop = _providers.setdefault(asyncio.get_running_loop(), {})
    key = (type, base_url, api_key)
    provider = per_loop.get(key)
    if provider is None:
        provider = per_loop[key] = provider_for(
            type, base_url=base_url, api_key=api_key, timeout_s=settings.MODELYARD_BACKEND_TIMEOUT
        )
    return provider


def _provider(route: Route, table: RoutingTable) -> Provider:
    return provider_pooled(route.type, base_url=route.base_url, api_key=table.api_keys.get(route.type, ""))


def _new_provider(route: Route, table: RoutingTable) -> Provider:
    return provider_for(
        route.type,
        base_url=route.base_url,
        api_key=table.api_keys.get(route.type, ""),
        timeout_s=settings.MODELYARD_BACKEND_TIMEOUT,
    )


# --- running requests with failover --------------------------------------------------------------


def _refused(route: Route, error: ProviderRequestError) -> DomainError:
    message = f"backend {route.name} refused the request: {error.message}"
    return NotFound(message) if error.status == 404 else Invalid(message)


async def route_call(
    model: str, call: Callable[[Provider, str], Awaitable[T]], *, backend_type: str = "", pooled: bool = True
) -> tuple[T, Route]:
    """Run `call(provider, name)` on the first candidate backend that answers; the result and the
    backend. `name` is the model's name as that backend reported it: send it that one.

    `pooled=False` uses a provider for this call only (callers on a short-lived event loop).
    """
    table, routes = await _candidates_syncing_unknown(model, backend_type)
    failures, missing = [], 0
    for route in routes:
        _in_flight[route.backend_id] = _in_flight.get(route.backend_id, 0) + 1
        provider = _provider(route, table) if pooled else _new_provider(route, table)
        own_name = route.own_name(model) or model
        try:
            result = await call(provider, own_name)
        except ProviderUnavailable as error:
            _record_failure(route)
            failures.append(f"{route.name}: {error.message}")
            continue
        except ProviderModelNotFound as error:
            # A stale model list, not a broken backend: forget the model there and try the next one.
            _record_success(route)
            await sync_to_async(_forget_model)(route.backend_id, own_name)
            failures.append(f"{route.name}: {error.message}")
            missing += 1
            continue
        except ProviderRequestError as error:
            _record_success(route)  # it answered: it is up
            raise _refused(route, error) from None
        finally:
            _in_flight[route.backend_id] -= 1
            if not pooled:
                await provider.aclose()
        _record_success(route)
        return result, route
    if missing == len(failures):
        raise ModelNotFound(f"no backend has model {model!r} any more: " + "; ".join(failures), model=model)
    raise Unavailable(f"every backend with model {model!r} failed: " + "; ".join(failures), model=model)


def _forget_model(backend_id: str, model: str) -> None:
    backend_model_forget(backend_id=backend_id, model=model)


async def route_chat_stream(
    model: str, messages: list[dict], options: dict, *, backend_type: str = ""
) -> tuple[AsyncIterator[ChatChunk], Route]:
    """A streamed chat on the first backend that starts answering.

    Failover happens until the first chunk arrives; after that the answer cannot move to another
    backend, and a broken stream raises ProviderUnavailable to the caller.
    """

    async def first_chunk(provider: Provider, name: str) -> tuple[ChatChunk, AsyncIterator[ChatChunk]]:
        stream = provider.chat_stream(model=name, messages=messages, options=options)
        try:
            return await stream.__anext__(), stream
        except StopAsyncIteration:
            return ChatChunk(text="", done=True, finish_reason="stop"), stream

    (head, stream), route = await route_call(model, first_chunk, backend_type=backend_type)

    async def chunks() -> AsyncIterator[ChatChunk]:
        _in_flight[route.backend_id] = _in_flight.get(route.backend_id, 0) + 1
        try:
            yield head
            if not head.done:
                async for chunk in stream:
                    yield chunk
        except ProviderUnavailable:
            _record_failure(route)
            raise
        finally:
            _in_flight[route.backend_id] -= 1
            if hasattr(stream, "aclose"):
                await stream.aclose()

    return chunks(), route
