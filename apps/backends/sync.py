"""Runtime state sync: ask every backend which models it has, and keep the answer on its row.

A backend that does not answer keeps its last known models and gets `state_error`; it never
breaks a listing. The `backends.sync` job (tasks.sync_run) then queues the pulls pools want.
"""

import asyncio
import logging
from typing import Any, TypedDict

from django.db import transaction
from django.utils import timezone

from apps.backends.credentials import provider_api_key
from apps.backends.models import Backend, ProviderConfig
from apps.backends.providers import provider_for
from apps.backends.providers.base import ProviderError, PulledModel
from apps.backends.routing_table import routing_invalidate
from apps.core import jobs
from apps.core.models import Job

logger = logging.getLogger(__name__)

SYNC_TIMEOUT_S = 15.0
SYNC_KIND = "backends.sync"


def sync_request() -> Job:
    """Ask a worker to sync every backend's state (one pending sync at a time is enough)."""
    pending = Job.objects.filter(kind=SYNC_KIND, state=Job.State.PENDING).first()
    if pending is not None:
        return pending
    return jobs.job_enqueue(kind=SYNC_KIND, func="apps.backends.tasks.sync_run", owner_surface="platform")


def backend_model_forget(*, backend_id: str, model: str) -> None:
    """`backend_id` said it does not have `model` (evicted, deleted): drop it from the backend's
    state now, so routing stops sending it there, and ask for a sync to learn the rest.

    `model` is the name the backend itself reported (routing sends no other), so only that entry goes.
    """
    with transaction.atomic():
        backend = Backend.objects.select_for_update().filter(pk=backend_id).first()
        if backend is not None:
            kept = [pulled for pulled in backend.state_models if pulled["model"] != model]
            if len(kept) != len(backend.state_models):
                Backend.objects.filter(pk=backend.pk).update(state_models=kept)
        sync_request()
    routing_invalidate()


def pulled_model_state(pulled: PulledModel) -> dict[str, Any]:
    """A pulled model as the spec's `pulledModels` items show it."""
    return {
        "name": pulled.name,
        "model": pulled.name,
        "canChat": pulled.can_chat,
        "canEmbed": pulled.can_embed,
        "canPrompt": pulled.can_prompt,
        "canStream": pulled.can_stream,
        "contextLength": pulled.context_length,
        "size": pulled.size,
        "digest": pulled.digest,
        "modifiedAt": pulled.modified_at.isoformat().replace("+00:00", "Z") if pulled.modified_at else None,
        "details": pulled.details,
    }


async def _fetch_state(backend: Backend, api_key: str) -> tuple[list[dict], str]:
    provider = provider_for(backend.type, base_url=backend.base_url, api_key=api_key, timeout_s=SYNC_TIMEOUT_S)
    try:
        pulled = await asyncio.wait_for(provider.list_models(), SYNC_TIMEOUT_S + 1)
    except (ProviderError, TimeoutError) as error:
        return [], str(error) or f"no answer from {backend.base_url} within {SYNC_TIMEOUT_S:.0f}s"
    finally:
        await provider.aclose()
    return [pulled_model_state(model) for model in pulled], ""


class SyncSummary(TypedDict):
    """The result of a `backends.sync` job (it reports no progress steps: one pass over the backends)."""

    backends: int
    unreachable: list[str]
    pullsQueued: int  # noqa: N815  (camelCase like the rest of the runtime spec)


def backends_sync(backends: list[Backend] | None = None) -> list[Backend]:
    """Refresh the state of `backends` (all by default), concurrently."""
    backends = list(Backend.objects.all()) if backends is None else backends
    configured = set(ProviderConfig.objects.values_list("type", flat=True))
    api_keys = {backend.type: provider_api_key(type=backend.type) for backend in backends if backend.type in configured}

    async def fetch_all() -> list[tuple[list[dict], str]]:
        return await asyncio.gather(*(_fetch_state(b, api_keys.get(b.type, "")) for b in backends))

    results = asyncio.run(fetch_all()) if backends else []
    now = timezone.now()
    for backend, (models, error) in zip(backends, results, strict=True):
        if error:
            logger.warning("backend %s (%s) is unreachable: %s", backend.name, backend.base_url, error)
            Backend.objects.filter(pk=backend.pk).update(state_error=error, state_synced_at=now)
            backend.state_error, backend.state_synced_at = error, now
        else:
            Backend.objects.filter(pk=backend.pk).update(state_models=models, state_error="", state_synced_at=now)
            backend.state_models, backend.state_error, backend.state_synced_at = models, "", now
    routing_invalidate()
    return backends
