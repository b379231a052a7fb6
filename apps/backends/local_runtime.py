"""The model runtime of this installation as an ordinary backend: the `local` backend in the
`default` pool, with the store's servable models declared in that pool, so pools, routing, the
gateway, `/execute`, `/embed` and chains use it like any other backend.

Run by `serve` when it starts (`manage.py runtime_register`); idempotent: what exists is kept,
what is missing is added, the backend's URL follows the runtime's port.
"""

import time

import httpx
from django.db import transaction

from apps.backends import services, sync
from apps.backends.models import Backend, Pool, RegisteredModel
from apps.backends.providers.local import LOCAL
from apps.inference import services as runtime
from apps.inference.remote import runtime_url as local_runtime_url
from apps.modelstore import selectors as store_selectors

BACKEND_NAME = "local-runtime"
POOL_NAME = "default"
# How long registration waits for a runtime that is starting before it asks for a sync anyway.
STARTUP_WAIT_S = 60.0


def local_runtime_wait(*, timeout_s: float = STARTUP_WAIT_S) -> bool:
    """Wait until the runtime answers `GET /health` (it starts beside `serve`); False after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{local_runtime_url()}/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


@transaction.atomic
def local_runtime_register() -> Backend:
    """Make the runtime the `local` backend of the `default` pool and declare every chat and
    embedding model of the store there; then ask for a sync, so its state fills in (call
    `local_runtime_wait` first when the runtime may still be starting)."""
    backend = Backend.objects.filter(type=LOCAL).first()
    if backend is None:
        backend = services.backend_create(name=BACKEND_NAME, base_url=local_runtime_url(), type=LOCAL)
    elif backend.base_url != local_runtime_url():
        backend = services.backend_update(
            backend_id=backend.id, name=backend.name, base_url=local_runtime_url(), type=LOCAL
        )
    pool = Pool.objects.filter(name=POOL_NAME).first() or services.pool_create(
        name=POOL_NAME, purpose_type="Internal Tasks"
    )
    if not pool.backends.filter(pk=backend.pk).exists():
        services.pool_backend_assign(pool_id=pool.id, backend_id=backend.id)
    local_runtime_models_declare()
    transaction.on_commit(sync.sync_request)
    return backend


@transaction.atomic
def local_runtime_models_declare() -> list[str]:
    """Declare every chat, embedding and rerank model of the store in the `default` pool, when the
    runtime is registered there: run at registration and after every backend sync, so a model pulled
    or imported later is routable within a sync interval (rerank models for RAG's cross-encoder
    strategy, through `services.model_rerank`). The ids declared now.

    Store entries an app keeps for itself (ML classifiers, forecasting checkpoints) are never
    declared; a declaration of one made by an earlier version is taken out of the pool here, so the
    gateway answers for it as for any model it does not know."""
    pool = Pool.objects.filter(name=POOL_NAME, backends__type=LOCAL).first()
    if pool is None:
        return []
    servable = runtime.models_list()
    owned = set(store_selectors.owned_models().values_list("model_id", flat=True)) - {item["id"] for item in servable}
    for stale in pool.models.filter(model__in=owned):
        services.pool_model_remove(pool_id=pool.id, model_id=stale.id)
    declared = []
    for item in servable:
        if item["kind"] not in {"chat", "embedding", "rerank"}:
            continue  # classify has no caller through the backends layer
        chat, embed = item["kind"] == "chat", item["kind"] == "embedding"
        registered = RegisteredModel.objects.filter(model=item["id"]).first() or services.model_create(
            model=item["id"], can_chat=chat, can_embed=embed, can_prompt=chat, can_stream=chat
        )
        if not pool.models.filter(pk=registered.pk).exists():
            services.pool_model_assign(pool_id=pool.id, model_id=registered.id)
            declared.append(registered.model)
    return declared
