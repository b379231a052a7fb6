"""Store entries an app keeps for itself are never inference models (issue 18, finding 7).

The ML app saves a SetFit classifier as a store entry of source `ml` (`classifier/<name>`) whose
folder is a sentence-transformers folder (it has `modules.json`) plus the SetFit head, and an
anomaly detector as `anomaly/<name>`; the forecasting app's checkpoints are store entries its
`InstalledForecastModel` rows name. Neither the runtime surface, the local backend's declarations
and sync, the gateway, nor the platform's `GET /v1/models` (OpenAI's list and the models cache) may
list or serve them: a request naming one is the same "model not found" as for a model never pulled.
The model store's own API keeps listing them, since that is where their files are managed.

The runtime here is the live test server (its port set as the runtime's), registered as the
`local` backend, so the gateway reaches it over HTTP as in production.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from apps.backends import routing, services
from apps.backends.local_runtime import local_runtime_models_declare, local_runtime_register
from apps.backends.models import Backend, Pool
from apps.backends.sync import backends_sync
from apps.forecasting.models import InstalledForecastModel
from apps.inference.residency import residency
from apps.modelstore import layout
from apps.modelstore import services as store
from apps.modelstore.models import LocalModel
from project.surfaces import RUNTIME
from tests.fakes import inference_models

pytestmark = [pytest.mark.ml, pytest.mark.django_db(transaction=True)]

SERVABLE = "acme/tiny-embedder"
CLASSIFIER = "classifier/spam_20250101_120000"
DETECTOR = "anomaly/sensors_20250101_120000"
FORECASTER = "acme/chronos-bolt-tiny"
ABSENT = "acme/never-pulled"
OWNED = (CLASSIFIER, DETECTOR, FORECASTER)
CHRONOS_CONFIG = b'{"architectures": ["ChronosBoltModelForForecasting"], "model_type": "t5"}'


@pytest.fixture(scope="module")
def embedder_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny sentence-transformers model (modules.json, one-layer BERT), built once for the module."""
    folder = tmp_path_factory.mktemp("ml-hidden") / "embedder"
    folder.mkdir()
    return inference_models.build_embedding_model(folder)


def put(source: str, model_id: str, files: dict[str, Path | bytes]) -> LocalModel:
    """Write a store folder and record it, as the ML app (`local_model_record`) and a pull do."""
    folder = layout.model_dir(source, model_id)
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, folder / name)
        else:
            (folder / name).write_bytes(content)
    return store.local_model_record(source=source, model_id=model_id)


@pytest.fixture
def entries(settings, tmp_path: Path, embedder_folder: Path) -> Iterator[dict[str, LocalModel]]:
    """A store of this test's own with a servable embedder, an ML classifier and detector saved the way
    the ML app saves them, and a forecasting checkpoint installed by the forecasting app."""
    settings.MODELYARD_HOME = tmp_path / "home"
    embedder = {name: embedder_folder / name for name in layout.list_model_files(embedder_folder)}
    setfit = {**embedder, "model_head.pkl": b"\x80\x04N.", "modelyard-ml.json": b'{"format": 1}'}
    stored = {
        SERVABLE: put("local", SERVABLE, embedder),
        CLASSIFIER: put("ml", CLASSIFIER, setfit),
        DETECTOR: put("ml", DETECTOR, {"detector.pkl": b"\x80\x04N.", "modelyard-ml.json": b'{"format": 1}'}),
        FORECASTER: put("huggingface", FORECASTER, {"config.json": CHRONOS_CONFIG, "model.safetensors": b"\0" * 64}),
    }
    InstalledForecastModel.objects.create(
        name="chronos-bolt-tiny", family="chronos-bolt", source="huggingface", model_id=FORECASTER
    )
    yield stored
    residency().unload_all()
    shutil.rmtree(settings.MODELYARD_HOME, ignore_errors=True)


@pytest.fixture
def gateway(entries, live_server, settings) -> Iterator[Backend]:
    """The live test server as the model runtime, registered as the `local` backend of the `default`
    pool and synced over HTTP (what `serve` does at start)."""
    settings.MODELYARD_RUNTIME_PORT = int(live_server.url.rsplit(":", 1)[1])
    routing.routing_invalidate()
    routing.routing_health_reset()
    backend = local_runtime_register()
    [backend] = backends_sync([backend])
    routing.routing_invalidate()
    yield backend
    routing.routing_invalidate()
    routing.routing_health_reset()


def runtime_post(client, path: str, body: dict):
    return client.post(path, data=body, content_type="application/json", SERVER_PORT=str(RUNTIME.port))


def error_as_for(response, model: str, other: str) -> dict:
    """The error object of `response` but its message, to compare it with the answer for `other`."""
    return {key: value for key, value in response.json()["error"].items() if key != "message"}


# What the not-found message says each owned entry is, instead of a hint to pull it.
USED_THROUGH = {
    CLASSIFIER: "of the ml app, used through the ML API",
    DETECTOR: "of the ml app, used through the ML API",
    FORECASTER: "of the forecasting app, used through the forecast API",
}


# --- the runtime surface -------------------------------------------------------------------------


def test_the_runtimes_model_list_has_the_embedder_but_no_ml_or_forecasting_entry(client, entries):
    response = client.get("/v1/models", SERVER_PORT=str(RUNTIME.port))

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["data"]] == [SERVABLE]


RUNTIME_CALLS = [
    ("/v1/embeddings", {"input": "free money"}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "free money"}]}),
    ("/v1/rerank", {"query": "money", "documents": ["free money", "rivers"]}),
    ("/v1/classify", {"texts": ["free money"]}),
]


def test_the_runtime_answers_an_owned_entry_not_found_saying_where_it_is_used(client, entries):
    for path, body in RUNTIME_CALLS:
        unknown = runtime_post(client, path, {**body, "model": ABSENT})
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found", path
        for owned in OWNED:
            response = runtime_post(client, path, {**body, "model": owned})

            assert response.status_code == 404, (path, owned)
            assert error_as_for(response, owned, ABSENT) == error_as_for(unknown, ABSENT, owned), (path, owned)
            message = response.json()["error"]["message"]
            assert USED_THROUGH[owned] in message and "Pull it" not in message, (path, owned)
    assert residency().residents() == []  # nothing was loaded


def test_the_store_api_still_lists_and_shows_the_owned_entries(client, entries):
    listed = client.get("/api/v1/models").json()
    ml_only = client.get("/api/v1/models", {"source": "ml"}).json()
    shown = client.get(f"/api/v1/models/ml/{CLASSIFIER}")
    status = client.get("/api/v1/status").json()

    assert {(model["source"], model["model_id"]) for model in listed["models"]} == {
        ("local", SERVABLE),
        ("ml", CLASSIFIER),
        ("ml", DETECTOR),
        ("huggingface", FORECASTER),
    }
    assert [model["model_id"] for model in ml_only["models"]] == [DETECTOR, CLASSIFIER]
    assert shown.status_code == 200 and shown.json()["local"]["model_id"] == CLASSIFIER
    assert status["model_count"] == 4 and status["sources"]["ml"]["count"] == 2


# --- the local backend, the gateway and the platform's /v1/models ------------------------------


def test_the_local_runtime_declares_and_reports_only_the_servable_model(gateway):
    pool = Pool.objects.get(name="default")

    assert set(pool.models.values_list("model", flat=True)) == {SERVABLE}
    assert gateway.state_error == ""
    assert [state["model"] for state in gateway.state_models] == [SERVABLE]


def test_a_declaration_of_an_owned_entry_left_by_an_earlier_version_is_taken_out_of_the_pool(entries, settings):
    settings.MODELYARD_RUNTIME_PORT = 9  # nothing answers there: registration and declaration need no runtime
    local_runtime_register()
    pool = Pool.objects.get(name="default")
    stale = services.model_create(model=CLASSIFIER, can_embed=True)
    services.pool_model_assign(pool_id=pool.id, model_id=stale.id)

    assert local_runtime_models_declare() == []
    assert set(pool.models.values_list("model", flat=True)) == {SERVABLE}


def test_the_openai_client_lists_the_embedder_but_no_owned_entry_and_embeds_with_it_only(
    gateway, client_openai: openai.OpenAI
):
    listed = [model.id for model in client_openai.models.list()]
    embedded = client_openai.embeddings.create(model=SERVABLE, input="free money")

    assert listed == [SERVABLE]
    assert len(embedded.data[0].embedding) == 32
    for owned in OWNED:
        with pytest.raises(openai.NotFoundError) as error:
            client_openai.embeddings.create(model=owned, input="free money")
        assert (error.value.status_code, error.value.code) == (404, "model_not_found")
        with pytest.raises(openai.NotFoundError):
            client_openai.chat.completions.create(model=owned, messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.NotFoundError):
            client_openai.models.retrieve(owned)


def test_the_gateway_answers_an_owned_entry_not_found_saying_where_it_is_used(client, gateway):
    for path, body in [
        ("/v1/embeddings", {"input": "free money"}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
    ]:
        unknown = client.post(path, data={**body, "model": ABSENT}, content_type="application/json")
        for owned in OWNED:
            response = client.post(path, data={**body, "model": owned}, content_type="application/json")

            assert unknown.status_code == response.status_code == 404
            assert error_as_for(response, owned, ABSENT) == error_as_for(unknown, ABSENT, owned)
            message = response.json()["error"]["message"]
            assert USED_THROUGH[owned] in message and "pull it" not in message.lower(), (path, owned)


def test_an_ml_model_named_as_the_ml_api_lists_it_is_not_found_saying_where_it_is_used(client, gateway):
    # GET /v1/ml/classifier/models lists `spam_20250101_120000`, not its store id.
    plain = CLASSIFIER.rsplit("/", 1)[-1]
    body = {"input": "free money", "model": plain}
    for response in (
        client.post("/v1/embeddings", data=body, content_type="application/json"),
        runtime_post(client, "/v1/embeddings", body),
        client.get(f"/v1/models/{plain}"),
    ):
        assert response.status_code == 404
        error = response.json()["error"]
        message = error["message"] if isinstance(error, dict) else error
        assert USED_THROUGH[CLASSIFIER] in message and "pull it" not in message.lower()


def test_the_models_cache_neither_lists_nor_deletes_owned_entries(client, entries):
    universal = client.get("/v1/models", {"provider": "universal"}).json()
    as_provider = client.get("/v1/models", {"provider": "ml"})
    deleted = client.delete(f"/v1/models/{CLASSIFIER}")

    assert [entry["model_id"] for entry in universal["data"]] == [SERVABLE]
    assert as_provider.status_code == 400 and "unknown provider 'ml'" in as_provider.json()["detail"]
    assert deleted.status_code == 404
    assert Path(entries[CLASSIFIER].path).is_dir() and LocalModel.objects.filter(source="ml").count() == 2
