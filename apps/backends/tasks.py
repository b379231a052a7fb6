"""django-q2 entry points of the backends app: thin, they load rows and call the app's modules."""

from typing import Any

from apps.backends import downloads, local_runtime, services, sync
from apps.backends.models import Backend
from apps.core import jobs


def sync_backends() -> None:
    """Scheduled (`backends.sync`, every MODELYARD_BACKEND_SYNC_MINUTES): ask for a sync job."""
    services.sync_request()


def sync_run() -> sync.SyncSummary:
    """The `backends.sync` job: declare the store's new models for the model runtime, sync every
    backend's state, then queue the pulls pools want."""
    local_runtime.local_runtime_models_declare()
    backends = sync.backends_sync()
    queued = downloads.pulls_reconcile()
    return sync.SyncSummary(
        backends=len(backends),
        unreachable=[backend.name for backend in backends if backend.state_error],
        pullsQueued=queued,
    )


def pull_model(*, backend_id: str, base_url: str, model: str) -> dict[str, Any]:
    """The `backends.pull` job: pull `model` into an Ollama backend, then sync what it now has."""
    backend = Backend.objects.filter(pk=backend_id).first()
    if backend is None:
        raise jobs.JobFailed(f"backend {backend_id} was removed before the pull of {model!r} started")
    result = downloads.pull_into_backend(backend=backend, model=model)
    sync.backends_sync([backend])
    return result
