"""Residency: an LRU of loaded models within a memory budget, pins, idle unloading, one call per model."""

import time

import pytest

from apps.inference import services
from apps.inference.engines import CHAT
from apps.inference.residency import GB, Busy, DoesNotFit, Residency
from apps.modelstore.models import LocalModel

pytestmark = [pytest.mark.ml, pytest.mark.django_db]


@pytest.fixture
def files(stored_tiny):
    """The runtime's view of a tiny model, put in the store first."""
    return lambda model_id: services.model_files(stored_tiny(model_id))


def test_loading_past_the_budget_unloads_the_least_recently_used_model(files, settings):
    residency = Residency()
    embedder, reranker, classifier = files("tiny/embedder"), files("tiny/reranker"), files("tiny/classifier")
    with residency.lease(embedder):
        pass
    with residency.lease(reranker):
        pass
    settings.MODELYARD_RUNTIME_MAX_MEMORY_GB = (residency.used_bytes() + classifier.estimated_bytes - 1) / GB

    with residency.lease(classifier):
        pass

    assert [item["id"] for item in residency.residents()] == ["tiny/classifier", "tiny/reranker"]


def test_a_model_that_cannot_fit_beside_pinned_ones_is_refused_naming_required_and_available_memory(files, settings):
    residency = Residency()
    embedder, chat = files("tiny/embedder"), files("tiny/chat")
    with residency.lease(embedder, keep_loaded=True):
        pass
    settings.MODELYARD_RUNTIME_MAX_MEMORY_GB = (residency.used_bytes() + chat.estimated_bytes // 2) / GB

    with pytest.raises(DoesNotFit) as refused:
        residency.lease(chat)

    assert f"needs about {chat.estimated_bytes / GB:.2f} GB" in refused.value.message
    assert "GB is available" in refused.value.message and "MODELYARD_RUNTIME_MAX_MEMORY_GB" in refused.value.message
    assert residency.is_loaded(embedder.key)


def test_idle_models_unload_but_pinned_ones_stay(files):
    residency = Residency()
    embedder, reranker = files("tiny/embedder"), files("tiny/reranker")
    with residency.lease(embedder, keep_loaded=True), residency.lease(reranker):
        pass
    time.sleep(0.05)

    assert residency.unload_idle(idle_s=0.01) == [reranker.key]
    assert residency.is_loaded(embedder.key) and not residency.is_loaded(reranker.key)


def test_a_caller_waits_its_turn_and_gives_up_with_busy_after_the_queue_wait(files, settings):
    residency = Residency()
    classifier = files("tiny/classifier")
    settings.MODELYARD_RUNTIME_QUEUE_WAIT_S = 0.2

    with residency.lease(classifier):
        started = time.monotonic()
        with pytest.raises(Busy, match="stayed busy"):
            residency.lease(classifier)
        assert time.monotonic() - started >= 0.2
    with residency.lease(classifier) as lease:  # free again once released
        assert lease.engine.classify(texts=["ok"])


def test_resolving_a_model_to_load_marks_it_used_in_the_store(stored_tiny, fresh_residency):
    row = stored_tiny("tiny/chat")
    assert row.last_used is None

    services.model_resolve(model="tiny/chat", kind=CHAT)

    assert LocalModel.objects.get(pk=row.pk).last_used is not None
