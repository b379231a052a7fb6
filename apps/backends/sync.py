"""Runtime state sync: ask every backend which models it has, and keep the answer on its row.

A backend that does not answer keeps its last known models and gets `state_error`; it never
breaks a listing. After a sync, models that pools want on Ollama backends are queued for pulling.
"""

import asyncio
import logging
from typing import Any

from django.utils import timezone

from apps.backends import downloads
from apps.backends.models import Backend, ProviderConfig
from apps.backends.providers import provider_for
from apps.backends.providers.base import ProviderError, PulledModel
from apps.backends.routing import routing_invalidate

logger = logging.getLogger(__name__)

SYNC_TIMEOUT_S = 15.0


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


def backends_sync(backends: list[Backend] | None = None) -> list[Backend]:
    """Refresh the state of `backends` (all by default), concurrently."""
    from apps.backends.services import provider_api_key

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


def sync_run() -> dict[str, Any]:
    """The `backends.sync` job: sync every backend, then queue the downloads pools need."""
    backends = backends_sync()
    queued = downloads.pulls_reconcile()
    return {
        "backends": len(backends),
        "unreachable": [backend.name for backend in backends if backend.state_error],
        "pullsQueued": queued,
    }
