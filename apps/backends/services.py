"""The backends app's public API: the registry (backends, pools, models, associations, provider
configs), and the entry points of sync, downloads and routing.

Every change to the registry asks for a state sync once the transaction commits, so new backends
are looked at and missing models are queued for download without waiting for the schedule.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import IntegrityError, connections, transaction
from django.db.models import Model as DjangoModel

from apps.backends import downloads, encryption, routing
from apps.backends.models import Backend, Pool, ProviderConfig, RegisteredModel
from apps.backends.providers import provider_for, provider_type_check
from apps.backends.providers.base import (
    ChatChunk,
    ChatResult,
    Embeddings,
    ProviderModelNotFound,
    ProviderRequestError,
    ProviderUnavailable,
    RerankResult,
)
from apps.backends.sync import sync_request
from apps.core.errors import Conflict, Invalid, NotFound, Unavailable


def _get(model: type[DjangoModel], label: str, object_id: Any) -> Any:
    try:
        return model.objects.get(pk=uuid.UUID(str(object_id)))
    except (ValueError, model.DoesNotExist):
        raise NotFound(f"{label} {object_id} not found") from None


def _new_id(model: type[DjangoModel], label: str, requested: str | None) -> uuid.UUID:
    """The id a client asked for (a UUID not yet taken), or a fresh one."""
    if not requested:
        return uuid.uuid4()
    try:
        object_id = uuid.UUID(str(requested))
    except ValueError:
        raise Invalid(f"id must be a UUID, got {requested!r}") from None
    if model.objects.filter(pk=object_id).exists():
        raise Conflict(f"{label} {object_id} already exists")
    return object_id


def _save_unique(instance: DjangoModel, message: str) -> None:
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:
        raise Conflict(message) from None


def _registry_changed() -> None:
    routing.routing_invalidate()
    transaction.on_commit(routing.routing_invalidate)
    transaction.on_commit(sync_request)


# --- backends ------------------------------------------------------------------------------------


def backend_get(*, backend_id: Any) -> Backend:
    return _get(Backend, "backend", backend_id)


@transaction.atomic
def backend_create(*, name: str, base_url: str, type: str, id: str | None = None) -> Backend:
    provider_type_check(type)
    backend = Backend(id=_new_id(Backend, "backend", id), name=name, base_url=base_url.rstrip("/"), type=type)
    _save_unique(backend, f"backend {name!r} already exists")
    _registry_changed()
    return backend


@transaction.atomic
def backend_update(*, backend_id: Any, name: str, base_url: str, type: str) -> Backend:
    provider_type_check(type)
    backend = backend_get(backend_id=backend_id)
    moved = (backend.base_url, backend.type) != (base_url.rstrip("/"), type)
    backend.name, backend.base_url, backend.type = name, base_url.rstrip("/"), type
    if moved:  # what we knew of the old address says nothing about the new one
        backend.state_models, backend.state_error, backend.state_synced_at = [], "", None
    _save_unique(backend, f"backend {name!r} already exists")
    _registry_changed()
    return backend


@transaction.atomic
def backend_delete(*, backend_id: Any) -> None:
    backend = backend_get(backend_id=backend_id)
    downloads.pulls_cancel(base_url=backend.base_url)
    downloads.holds_release(base_url=backend.base_url)
    backend.delete()
    routing.routing_invalidate()


# --- pools ---------------------------------------------------------------------------------------


def pool_get(*, pool_id: Any) -> Pool:
    return _get(Pool, "pool", pool_id)


def pool_get_by_name(*, name: str) -> Pool:
    pool = Pool.objects.filter(name=name).first()
    if pool is None:
        raise NotFound(f"pool {name!r} not found")
    return pool


@transaction.atomic
def pool_create(*, name: str, purpose_type: str, id: str | None = None) -> Pool:
    pool = Pool(id=_new_id(Pool, "pool", id), name=name, purpose_type=purpose_type)
    _save_unique(pool, f"pool {name!r} already exists")
    _registry_changed()
    return pool


@transaction.atomic
def pool_update(*, pool_id: Any, name: str, purpose_type: str) -> Pool:
    pool = pool_get(pool_id=pool_id)
    pool.name, pool.purpose_type = name, purpose_type
    _save_unique(pool, f"pool {name!r} already exists")
    _registry_changed()
    return pool


@transaction.atomic
def pool_delete(*, pool_id: Any) -> None:
    pool = pool_get(pool_id=pool_id)
    downloads.holds_release(models=list(pool.models.values_list("model", flat=True)))
    pool.delete()
    _registry_changed()


# --- models --------------------------------------------------------------------------------------


def model_get(*, model_id: Any) -> RegisteredModel:
    return _get(RegisteredModel, "model", model_id)


MODEL_FIELDS = ("can_chat", "can_embed", "can_prompt", "can_stream", "context_length")


@transaction.atomic
def model_create(*, model: str, id: str | None = None, **capabilities: Any) -> RegisteredModel:
    registered = RegisteredModel(id=_new_id(RegisteredModel, "model", id), model=model, **capabilities)
    _save_unique(registered, f"model {model!r} already exists")
    downloads.holds_release(models=[model])
    _registry_changed()
    return registered


@transaction.atomic
def model_update(*, model_id: Any, model: str | None = None, **capabilities: Any) -> RegisteredModel:
    """Only capabilities and context length change; the model's name cannot."""
    registered = model_get(model_id=model_id)
    if model is not None and model != registered.model:
        raise Invalid(f"a model's name cannot change ({registered.model!r}); declare a new model instead")
    for field, value in capabilities.items():
        setattr(registered, field, value)
    registered.save()
    routing.routing_invalidate()
    return registered


@transaction.atomic
def model_delete(*, model_id: Any, purge: bool = False) -> None:
    registered = model_get(model_id=model_id)
    if purge:
        downloads.pulls_cancel(model=registered.model)
    downloads.holds_release(models=[registered.model])
    registered.delete()
    routing.routing_invalidate()


# --- associations --------------------------------------------------------------------------------


@transaction.atomic
def pool_backend_assign(*, pool_id: Any, backend_id: Any) -> None:
    pool, backend = pool_get(pool_id=pool_id), backend_get(backend_id=backend_id)
    if pool.backends.filter(pk=backend.pk).exists():
        raise Conflict(f"backend {backend.name!r} is already in pool {pool.name!r}")
    pool.backends.add(backend)
    _registry_changed()


@transaction.atomic
def pool_backend_remove(*, pool_id: Any, backend_id: Any) -> None:
    pool, backend = pool_get(pool_id=pool_id), backend_get(backend_id=backend_id)
    if not pool.backends.filter(pk=backend.pk).exists():
        raise NotFound(f"backend {backend.name!r} is not in pool {pool.name!r}")
    pool.backends.remove(backend)
    routing.routing_invalidate()


@transaction.atomic
def pool_model_assign(*, pool_id: Any, model_id: Any) -> None:
    pool, registered = pool_get(pool_id=pool_id), model_get(model_id=model_id)
    if pool.models.filter(pk=registered.pk).exists():
        raise Conflict(f"model {registered.model!r} is already in pool {pool.name!r}")
    pool.models.add(registered)
    downloads.holds_release(models=[registered.model])
    _registry_changed()


@transaction.atomic
def pool_model_remove(*, pool_id: Any, model_id: Any) -> None:
    pool, registered = pool_get(pool_id=pool_id), model_get(model_id=model_id)
    if not pool.models.filter(pk=registered.pk).exists():
        raise NotFound(f"model {registered.model!r} is not in pool {pool.name!r}")
    pool.models.remove(registered)
    downloads.holds_release(models=[registered.model])
    routing.routing_invalidate()


# --- provider configs ----------------------------------------------------------------------------


def provider_config_get(*, type: str) -> ProviderConfig:
    config = ProviderConfig.objects.filter(type=provider_type_check(type)).first()
    if config is None:
        raise NotFound(f"provider {type!r} is not configured")
    return config


def provider_config_set(*, type: str, api_key: str) -> ProviderConfig:
    provider_type_check(type)
    if not api_key.strip():
        raise Invalid("apiKey must not be empty")
    config, _created = ProviderConfig.objects.update_or_create(
        type=type, defaults={"api_key_encrypted": encryption.encrypt(api_key.strip())}
    )
    routing.routing_invalidate()
    return config


def provider_config_delete(*, type: str) -> None:
    provider_config_get(type=type).delete()
    routing.routing_invalidate()


def provider_config_masked(config: ProviderConfig) -> dict[str, str]:
    return {"Type": config.type, "APIKey": encryption.mask(encryption.decrypt(config.api_key_encrypted))}


# --- download queue ------------------------------------------------------------------------------


def queue_remove(*, model: str) -> str:
    """`DELETE /queue/{model}`: take `model` off the download queue, stopping its running pulls,
    and keep it off until its pool membership changes; the answer says so."""
    if not downloads.pulls_cancel_and_hold(model=model):
        raise NotFound(f"model {model!r} is not in the download queue")
    return f"removed from queue; {downloads.HOLD_NOTE}"


def queue_cancel(*, model: str | None = None, base_url: str | None = None) -> str:
    """`DELETE /queue/cancel`: cancel the pulls of `model` and/or to `base_url`, held as `queue_remove`
    holds them; the answer says how many and that they stay cancelled."""
    cancelled = downloads.pulls_cancel_and_hold(model=model, base_url=base_url)
    if not cancelled:
        return "0 download(s) cancelled"
    return f"{cancelled} download(s) cancelled; {downloads.HOLD_NOTE}"


# --- running models from sync code (other apps, workers) -----------------------------------------

T = TypeVar("T")


def _connections_recheck() -> None:
    for connection in connections.all(initialized_only=True):
        connection.health_check_done = False


def _run_async(call: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`call()` on an event loop of its own, in a fresh thread.

    The fresh thread matters: a sync view under ASGI runs in a thread-sensitive context, and the
    routing's ORM calls (thread-sensitive too) would wait for that very thread, blocked here.
    """

    async def checked() -> T:
        # The routing's ORM calls run on asgiref's one shared thread, whose connection outlives any
        # request (no request signals here): have it checked before its next query, and reopened if
        # the server ended it (CONN_HEALTH_CHECKS; nothing is queried until then).
        await sync_to_async(_connections_recheck)()
        return await call()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-call") as executor:
        return executor.submit(lambda: asyncio.run(checked())).result()


def model_chat(
    *, model: str, messages: list[dict], options: dict | None = None, backend_type: str = ""
) -> tuple[ChatResult, str]:
    """A chat on `model`, routed with failover as the gateway routes it; the answer and the
    name of the backend that gave it. For sync code (views, workers): it runs its own event loop.
    """

    async def run() -> tuple[ChatResult, routing.Route]:
        return await routing.route_call(
            model,
            lambda provider, name: provider.chat(model=name, messages=messages, options=options or {}),
            backend_type=backend_type,
            pooled=False,
        )

    result, route = _run_async(run)
    return result, route.name


def model_embed(*, model: str, inputs: list[str]) -> list[list[float]]:
    """Embeddings of `inputs` on `model`, routed with failover. For sync code."""

    async def run() -> tuple[Embeddings, routing.Route]:
        return await routing.route_call(
            model, lambda provider, name: provider.embed(model=name, inputs=inputs), pooled=False
        )

    return _run_async(run)[0].vectors


def endpoint_embed(
    *, type: str, base_url: str, model: str, inputs: list[str], api_key: str = "", timeout_s: float = 60.0
) -> list[list[float]]:
    """Embeddings of `inputs` on `model` at one given endpoint (a provider `type` at `base_url`, not
    a registered backend: e.g. a RAG embedding strategy naming its own Ollama). For sync code.

    Raises Unavailable when the endpoint cannot answer (connection error, timeout, 5xx), NotFound
    when it does not have the model, Invalid when it refuses the request, naming the endpoint.
    """
    provider_type_check(type)

    async def run() -> Embeddings:
        provider = provider_for(type, base_url=base_url, api_key=api_key, timeout_s=timeout_s)
        try:
            return await provider.embed(model=model, inputs=inputs)
        finally:
            await provider.aclose()

    try:
        return _run_async(run).vectors
    except (ProviderUnavailable, ProviderRequestError) as error:
        raise _endpoint_error(error, type=type, base_url=base_url, model=model) from None


def _endpoint_error(error: Exception, *, type: str, base_url: str, model: str) -> Exception:
    """The domain error for a provider error of one given endpoint, naming it."""
    if isinstance(error, ProviderUnavailable):
        return Unavailable(f"{type} endpoint {base_url} is unavailable: {error.message}", model=model)
    if isinstance(error, ProviderModelNotFound):
        return NotFound(f"{type} endpoint {base_url} has no model {model!r}: {error.message}", model=model)
    if isinstance(error, ProviderRequestError):
        return Invalid(f"{type} endpoint {base_url} refused the request: {error.message}", model=model)
    return error


async def endpoint_chat(
    *, type: str, base_url: str, model: str, messages: list[dict], options: dict | None = None, api_key: str = ""
) -> ChatResult:
    """A chat on `model` at one given endpoint (a provider `type` at `base_url`, not a registered
    backend: e.g. a project model naming its own Ollama). For async code; the endpoint's adapter is
    kept for the event loop (`routing.provider_pooled`), its connections alive between requests.

    Raises Unavailable (503) when the endpoint cannot answer, NotFound (404) when it does not have
    the model, Invalid (400) when it refuses the request (unknown `type` too), naming the endpoint.
    """
    provider = routing.provider_pooled(provider_type_check(type), base_url=base_url, api_key=api_key)
    try:
        return await provider.chat(model=model, messages=messages, options=options or {})
    except (ProviderUnavailable, ProviderRequestError) as error:
        raise _endpoint_error(error, type=type, base_url=base_url, model=model) from None


async def endpoint_chat_stream(
    *, type: str, base_url: str, model: str, messages: list[dict], options: dict | None = None, api_key: str = ""
) -> AsyncIterator[ChatChunk]:
    """A streamed chat on `model` at one given endpoint, once it has started: the first chunk has
    arrived, so a refusal or an endpoint that is down raises here as `endpoint_chat` does (before
    any byte went to the client). Afterwards a broken stream raises ProviderUnavailable from the
    iterator; closing the iterator closes the upstream request (the endpoint stops generating).
    The adapter is kept for the event loop, as `endpoint_chat`'s is."""
    provider = routing.provider_pooled(provider_type_check(type), base_url=base_url, api_key=api_key)
    stream = provider.chat_stream(model=model, messages=messages, options=options or {})
    try:
        head: ChatChunk | None = await stream.__anext__()
    except StopAsyncIteration:
        head = None
    except (ProviderUnavailable, ProviderRequestError) as error:
        await stream.aclose()
        raise _endpoint_error(error, type=type, base_url=base_url, model=model) from None
    except BaseException:
        await stream.aclose()
        raise

    async def chunks() -> AsyncIterator[ChatChunk]:
        try:
            if head is None:
                yield ChatChunk(text="", done=True, finish_reason="stop")
                return
            yield head
            if not head.done:
                async for chunk in stream:
                    yield chunk
        finally:
            await stream.aclose()

    return chunks()


def model_rerank(
    *, model: str, query: str, documents: list[str], top_n: int | None = None
) -> tuple[list[RerankResult], str]:
    """`documents` scored against `query` by the cross-encoder `model`, routed with failover as
    `model_chat` is: `[RerankResult(index, relevance_score)]`, most relevant first (at most
    `top_n`), and the backend's name. For sync code. The model runtime declares its rerank models in
    the `default` pool; a backend without `/v1/rerank` (Ollama) answers Invalid (400)."""

    async def run() -> tuple[list[RerankResult], routing.Route]:
        return await routing.route_call(
            model,
            lambda provider, name: provider.rerank(model=name, query=query, documents=documents, top_n=top_n),
            pooled=False,
        )

    results, route = _run_async(run)
    return results, route.name
