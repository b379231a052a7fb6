"""A pull a client cancels stays cancelled: the next sync does not queue it again until the
model's pool membership changes, and the cancel's answer says so."""

import pytest

from apps.backends import downloads, routing, services
from apps.backends.models import PullHold
from apps.backends.sync import backends_sync
from apps.core.models import Job
from tests.fakes.backends_ollama import FakeOllama

pytestmark = pytest.mark.django_db

HELD = "it will not be queued again until the model's pool membership changes"


@pytest.fixture
def wanted():
    """Two Ollama backends in one pool that wants `big:70b`, which neither has; the pulls are queued."""
    with FakeOllama(name="hold-a", models=[]) as first, FakeOllama(name="hold-b", models=[]) as second:
        pool = services.pool_create(name="chat", purpose_type="Internal Tasks")
        backends = [services.backend_create(name=f.name, base_url=f.url, type="ollama") for f in (first, second)]
        model = services.model_create(model="big:70b")
        for backend in backends:
            services.pool_backend_assign(pool_id=pool.id, backend_id=backend.id)
        services.pool_model_assign(pool_id=pool.id, model_id=model.id)
        backends_sync(backends)
        assert downloads.pulls_reconcile() == 2
        yield {"pool": pool, "model": model, "backends": backends}
    routing.routing_invalidate()


def active_pulls() -> list[tuple[str, str]]:
    return sorted((job.params["model"], job.params["base_url"]) for job in downloads.pulls_active())


def test_removing_a_model_from_the_queue_holds_until_its_pool_membership_changes(client, wanted):
    response = client.delete("/queue/big:70b")

    assert (response.status_code, response.json()) == (200, f"removed from queue; {HELD}")
    assert Job.objects.filter(kind=downloads.PULL_KIND, state=Job.State.CANCELLED).count() == 2
    assert downloads.pulls_reconcile() == 0  # the next sync leaves it alone
    assert client.get("/queue").json() == []

    services.pool_model_remove(pool_id=wanted["pool"].id, model_id=wanted["model"].id)
    services.pool_model_assign(pool_id=wanted["pool"].id, model_id=wanted["model"].id)

    assert downloads.pulls_reconcile() == 2
    assert PullHold.objects.count() == 0


def test_cancelling_by_model_holds_it_on_every_backend(client, wanted):
    response = client.delete("/queue/cancel?model=big:70b")

    assert (response.status_code, response.json()) == (200, f"2 download(s) cancelled; {HELD}")
    assert downloads.pulls_reconcile() == 0
    assert active_pulls() == []


def test_cancelling_running_pulls_again_counts_only_what_this_call_cancelled(client, wanted):
    # Running pulls stop at their worker's next check: until then they are still active.
    Job.objects.filter(kind=downloads.PULL_KIND).update(state=Job.State.STARTED)

    first = client.delete("/queue/cancel?model=big:70b")
    again = client.delete("/queue/cancel?model=big:70b")

    assert (first.status_code, first.json()) == (200, f"2 download(s) cancelled; {HELD}")
    assert (again.status_code, again.json()) == (200, "0 download(s) cancelled")
    running = Job.objects.filter(kind=downloads.PULL_KIND, state=Job.State.STARTED)
    assert [job.cancel_requested for job in running] == [True, True]


def test_cancelling_by_url_holds_only_that_backends_pulls(client, wanted):
    held, other = wanted["backends"]

    response = client.delete(f"/queue/cancel?url={held.base_url}")

    assert (response.status_code, response.json()) == (200, f"1 download(s) cancelled; {HELD}")
    assert downloads.pulls_reconcile() == 0
    assert active_pulls() == [("big:70b", other.base_url)]  # the other backend's pull goes on


def test_a_hold_is_lifted_when_the_pool_is_deleted_or_the_model_declared_anew(client, wanted):
    client.delete("/queue/big:70b")

    services.pool_delete(pool_id=wanted["pool"].id)
    services.model_delete(model_id=wanted["model"].id)
    services.model_create(model="big:70b")

    assert PullHold.objects.count() == 0
    assert downloads.pulls_reconcile() == 2  # no pools left: every declared model on every Ollama


def test_cancelling_nothing_holds_nothing(client, wanted):
    unknown = client.delete("/queue/never-queued:1b")
    none = client.delete("/queue/cancel?url=http://127.0.0.1:1")

    assert (unknown.status_code, unknown.json()) == (
        404,
        {"error": "model 'never-queued:1b' is not in the download queue"},
    )
    assert (none.status_code, none.json()) == (200, "0 download(s) cancelled")
    assert PullHold.objects.count() == 0
