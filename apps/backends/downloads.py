"""The download queue: models that pools want on Ollama backends, pulled there as `core.Job`s.

Each pull reports Ollama's status lines as job progress and publishes them to the group
PULLS_GROUP, which `GET /queue/inProgress` relays as `event: status` SSE lines.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypedDict

from django.db.models import QuerySet

from apps.backends.models import Backend, Pool, PullHold, RegisteredModel
from apps.backends.naming import same_model
from apps.backends.providers import provider_for
from apps.backends.providers.base import ProviderError
from apps.core import events, jobs
from apps.core.errors import Conflict
from apps.core.models import Job

logger = logging.getLogger(__name__)

PULL_KIND = "backends.pull"
PULLS_GROUP = "backends.pulls"
ACTIVE_STATES = (Job.State.PENDING, Job.State.STARTED)
CANCEL_CHECK_EVERY_S = 0.5
PULL_LINE_TIMEOUT_S = 900.0
# What a client's cancel answers about the pull's future (see `pulls_cancel_and_hold`).
HOLD_NOTE = "it will not be queued again until the model's pool membership changes"


def pulls_active(*, model: str | None = None, base_url: str | None = None) -> QuerySet[Job]:
    queryset = Job.objects.filter(kind=PULL_KIND, state__in=ACTIVE_STATES)
    if model is not None:
        queryset = queryset.filter(params__model=model)
    if base_url is not None:
        queryset = queryset.filter(params__base_url=base_url.rstrip("/"))
    return queryset.order_by("created_at")


def pull_enqueue(*, backend: Backend, model: str) -> Job:
    """Queue a pull of `model` to `backend`, unless one is already queued or running."""
    if backend.type != "ollama":
        raise Conflict(f"backend {backend.name!r} is {backend.type}: only ollama backends can pull models")
    jobs.jobs_recover(kind=PULL_KIND)  # never join a pull that no worker runs any more
    existing = pulls_active(model=model, base_url=backend.base_url).first()
    if existing is not None:
        return existing
    return jobs.job_enqueue(
        kind=PULL_KIND,
        func="apps.backends.tasks.pull_model",
        params={"backend_id": str(backend.id), "base_url": backend.base_url, "model": model},
        owner_surface="platform",
        owner_ref=f"backend:{backend.id}",
    )


def pulls_cancel(*, model: str | None = None, base_url: str | None = None) -> int:
    """Cancel queued and running pulls of `model` and/or to `base_url`; how many this call cancelled.

    A running pull asked to stop before is still running until its worker notices: it is not
    cancelled again, nor counted again; nor is one that finished meanwhile.
    """
    asked = pulls_active(model=model, base_url=base_url).filter(cancel_requested=False)
    reports = [jobs.job_cancel(job_id=str(job.id)) for job in asked]
    return sum(report.outcome == "cancelled" for report in reports)


def pulls_cancel_and_hold(*, model: str | None = None, base_url: str | None = None) -> int:
    """A client's cancel: cancel the pulls as `pulls_cancel` does, and hold each cancelled model
    (on `base_url` only when one is given, else on every backend) so the next sync does not queue
    it again; `holds_release` lifts the hold when the model's pool membership changes."""
    targets = {
        (job.params["model"], base_url.rstrip("/") if base_url else "")
        for job in pulls_active(model=model, base_url=base_url)
    }
    if model is not None:
        targets.add((model, base_url.rstrip("/") if base_url else ""))
    cancelled = pulls_cancel(model=model, base_url=base_url)
    if cancelled:
        for held_model, held_url in targets:
            PullHold.objects.get_or_create(model=held_model, base_url=held_url)
    return cancelled


def holds_release(*, models: list[str] | None = None, base_url: str | None = None) -> None:
    """Lift the holds of `models` (any spelling of their names) and/or of the backend at `base_url`."""
    holds = PullHold.objects.all()
    if base_url is not None:
        holds = holds.filter(base_url=base_url.rstrip("/"))
    if models is not None:
        ids = [hold.pk for hold in holds if any(same_model(hold.model, name) for name in models)]
        holds = PullHold.objects.filter(pk__in=ids)
    holds.delete()


def _held(holds: list[PullHold], backend: Backend, model: str) -> bool:
    return any(same_model(hold.model, model) and hold.base_url in ("", backend.base_url) for hold in holds)


def pulls_reconcile() -> int:
    """Queue a pull for every model a pool wants on one of its Ollama backends that lacks it.

    With no pools at all, every declared model is wanted on every Ollama backend. Backends whose
    state is unknown or unreachable are left alone until a sync can see them, and so are the pulls
    a client cancelled (`PullHold`).
    """
    wanted: list[tuple[Backend, str]] = []
    if Pool.objects.exists():
        for pool in Pool.objects.prefetch_related("backends", "models"):
            wanted += [(b, m.model) for b in pool.backends.all() for m in pool.models.all()]
    else:
        models = list(RegisteredModel.objects.values_list("model", flat=True))
        wanted = [(b, m) for b in Backend.objects.filter(type="ollama") for m in models]
    holds = list(PullHold.objects.all())
    queued = 0
    for backend, model in wanted:
        if backend.type != "ollama" or backend.state_synced_at is None or backend.state_error:
            continue
        if _held(holds, backend, model):
            continue
        if any(same_model(model, name) for name in backend.model_names):
            continue
        if not pulls_active(model=model, base_url=backend.base_url).exists():
            pull_enqueue(backend=backend, model=model)
            queued += 1
    return queued


def queue_items() -> list[dict[str, Any]]:
    """`GET /queue`: the pulls waiting or running, in the spec's shape."""
    return [
        {
            "id": str(job.id),
            "taskType": "model_download",
            "modelJob": {"model": job.params["model"], "url": job.params["base_url"], "state": job.state},
            "scheduledFor": int(job.created_at.timestamp()),
            "validUntil": int(job.created_at.timestamp()) + 24 * 3600,
            "createdAt": job.created_at.isoformat().replace("+00:00", "Z"),
        }
        for job in pulls_active()
    ]


def _sync_steps(stream: AsyncIterator, *, cleanup: Callable[[], Awaitable[None]]) -> Iterator:
    """Iterate an async iterator from sync code, so the ORM can be used between items."""
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                yield loop.run_until_complete(stream.__anext__())
            except StopAsyncIteration:
                return
    finally:
        if hasattr(stream, "aclose"):
            loop.run_until_complete(stream.aclose())
        loop.run_until_complete(cleanup())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


class PullJobProgress(TypedDict):
    """The progress payload of a `backends.pull` job: Ollama's last status line, and where."""

    status: str
    digest: str
    model: str
    baseUrl: str  # noqa: N815  (the runtime spec's spelling, as `/queue/inProgress` relays it)


class PullStatusEvent(PullJobProgress):
    """What `GET /queue/inProgress` relays as `event: status`: the progress with its byte counts."""

    total: int | None
    completed: int | None


def pull_into_backend(*, backend: Backend, model: str) -> dict[str, Any]:
    """Run Ollama's pull of `model` on `backend` as the current job (`backends.pull`, started by
    tasks.pull_model), reporting every status line as progress and to PULLS_GROUP."""
    if backend.type != "ollama":
        raise jobs.JobFailed(f"backend {backend.name!r} is {backend.type}: only ollama backends can pull models")
    # Read timeout between two status lines: verifying a large model's digest takes minutes.
    provider = provider_for(backend.type, base_url=backend.base_url, timeout_s=PULL_LINE_TIMEOUT_S)
    steps = _sync_steps(provider.pull(model=model), cleanup=provider.aclose)
    last_status, last_cancel_check = "", 0.0
    try:
        for line in steps:
            last_status = line.status
            about = PullJobProgress(status=line.status, digest=line.digest, model=model, baseUrl=backend.base_url)
            jobs.progress(line.completed, line.total, **about)
            events.publish(PULLS_GROUP, "status", PullStatusEvent(**about, total=line.total, completed=line.completed))
            if time.monotonic() - last_cancel_check > CANCEL_CHECK_EVERY_S:
                last_cancel_check = time.monotonic()
                jobs.check_cancelled()  # closing the stream makes Ollama stop the pull
    except ProviderError as error:
        raise jobs.JobFailed(f"pull of {model!r} to {backend.base_url} failed: {error}") from None
    finally:
        steps.close()
    if last_status != "success":
        raise jobs.JobFailed(f"pull of {model!r} to {backend.base_url} ended without success ({last_status!r})")
    events.publish(PULLS_GROUP, "status", {"status": "success", "model": model, "baseUrl": backend.base_url})
    return {"model": model, "baseUrl": backend.base_url, "status": "success"}
