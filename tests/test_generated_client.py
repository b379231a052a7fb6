"""A client generated from the platform's OpenAPI schema by openapi-python-client works.

The schema is generated from the views, the client from the schema (in a tmp dir, at test time),
and the client then talks to a live test server: every operation must be generated (no "Incorrect
path templating"), every parameterless GET must parse, and CRUD round trips on backends, pools and
models must parse at every step. A response that drifts from its schema raises here (`KeyError`,
`TypeError` in the generated `from_dict`).
"""

import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from apps.core.schema import surface_schema

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "generated-client-key-0123456789"
PACKAGE = "modelyard_client"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
# Operations not called, each with why.
NOT_CALLED = {
    "modelstore_search": "searches the real Hugging Face hub (tests never reach the network); its spec's "
    "query parameter `params` also collides with the generated code's own `params` dict",
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, str]]:
    """The generated package and the generator's output."""
    folder = tmp_path_factory.mktemp("client")
    schema = surface_schema()
    (folder / "schema.json").write_text(json.dumps(schema))
    # No post hooks: the generator would run ruff from PATH over the code; the code is only imported.
    (folder / "config.json").write_text(json.dumps({"post_hooks": []}))
    result = subprocess.run(
        [str(GENERATOR), "generate", "--path", "schema.json", "--config", "config.json", "--meta", "none",
         "--output-path", PACKAGE],
        cwd=folder, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE), result.stdout + result.stderr
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture
def api(generated: tuple[ModuleType, str], live_server: Any, settings: Any) -> Any:
    """A generated client on a keyed live server."""
    settings.MODELYARD_ENV_API_KEYS = [KEY]
    package, _ = generated
    return package.AuthenticatedClient(base_url=live_server.url, token=KEY, raise_on_unexpected_status=True)


def operations(package: ModuleType) -> Iterator[tuple[str, ModuleType]]:
    api = importlib.import_module(f"{package.__name__}.api")
    for group in pkgutil.iter_modules(api.__path__):
        tag = importlib.import_module(f"{api.__name__}.{group.name}")
        for operation in pkgutil.iter_modules(tag.__path__):
            yield f"{group.name}.{operation.name}", importlib.import_module(f"{tag.__name__}.{operation.name}")


def event_stream_paths() -> set[str]:
    schema = surface_schema()
    return {
        path
        for path, methods in schema["paths"].items()
        if "text/event-stream" in json.dumps(methods.get("get", {}).get("responses", {}))
    }


def test_every_operation_is_generated_without_a_warning(generated):
    _, output = generated

    assert "Incorrect path templating" not in output
    assert "will not be generated" not in output
    assert "Unable to" not in output


def test_every_parameterless_get_parses(generated, api):
    package, _ = generated
    streams = event_stream_paths()
    called = []
    for name, module in operations(package):
        source = inspect.getsource(module._get_kwargs)
        if name.rsplit(".", 1)[-1] in NOT_CALLED:
            continue
        if '"method": "get"' not in source or any(f'"url": "{path}"' in source for path in streams):
            continue
        required = [
            parameter
            for parameter in inspect.signature(module.sync_detailed).parameters.values()
            if parameter.name != "client" and parameter.default is inspect.Parameter.empty
        ]
        if required:
            continue
        response = module.sync_detailed(client=api)
        assert response.status_code < 500, (name, response.content)
        assert response.parsed is not None, (name, response.status_code, response.content)
        called.append(name)
    assert "runtime.list_backends" in called
    assert "model_store.hub_models_list" in called or any(name.endswith("hub_models_list") for name in called)
    assert any(name.endswith("models_cache_list") for name in called)


def test_backend_pool_and_model_round_trips_parse(generated, api):
    package, _ = generated
    runtime = importlib.import_module(f"{package.__name__}.api.runtime")
    models = importlib.import_module(f"{package.__name__}.models")

    def call(operation: str, **kwargs: Any) -> Any:
        module = importlib.import_module(f"{runtime.__name__}.{operation}")
        response = module.sync_detailed(client=api, **kwargs)
        assert response.status_code < 300, (operation, response.status_code, response.content)
        return response.parsed

    backend = call(
        "create_backend",
        body=models.BackendRequest(
            name="gen-backend", base_url="http://127.0.0.1:9", type_=models.ProviderTypeEnum("ollama")
        ),
    )
    assert backend.name == "gen-backend"
    fetched = call("get_backend", id=backend.id)
    assert fetched.name == "gen-backend" and fetched.models == []
    assert [entry.name for entry in call("list_backends")] == ["gen-backend"]
    updated = call(
        "update_backend",
        id=backend.id,
        body=models.BackendRequest(
            name="gen-backend-2", base_url="http://127.0.0.1:9", type_=models.ProviderTypeEnum("ollama")
        ),
    )
    assert updated.name == "gen-backend-2"

    pool = call("create_pool", body=models.PoolRequest(name="gen-pool", purpose_type="chat"))
    assert call("get_pool", id=pool.id).name == "gen-pool"
    assert call("update_pool", id=pool.id, body=models.PoolRequest(name="gen-pool-2", purpose_type="chat")).name == (
        "gen-pool-2"
    )
    call("assign_backend", pool_id=pool.id, backend_id=backend.id)
    assert [entry.name for entry in call("list_backends_by_pool", pool_id=pool.id)] == ["gen-backend-2"]

    model = call("create_model", body=models.RegisteredModelRequest(model="gen-model:latest"))
    assert model.model == "gen-model:latest"
    assert [entry.id for entry in call("list_models").data] == ["gen-model:latest"]
    call("assign_model", pool_id=pool.id, model_id=model.id)
    assert [entry.model for entry in call("list_models_by_pool", pool_id=pool.id)] == ["gen-model:latest"]

    call("remove_model", pool_id=pool.id, model_id=model.id)
    call("remove_backend", pool_id=pool.id, backend_id=backend.id)
    call("delete_model", id=model.id)
    call("delete_pool", id=pool.id)
    call("delete_backend", id=backend.id)
    assert call("list_backends") == []


def test_hooks_jobs_store_and_mirror_round_trips_parse(generated, api, settings, tmp_path, hub):
    """The other resources, on real objects: remote hooks, a job, a stored model (the model store,
    the models cache and the mirror that serves it), and a validation against the hub."""
    from apps.core import jobs
    from apps.modelstore import layout, services

    package, _ = generated
    models = importlib.import_module(f"{package.__name__}.models")
    settings.MODELYARD_HOME = tmp_path / "home"
    settings.MODELYARD_HF_ENDPOINT, settings.MODELYARD_HF_TOKEN = hub.url, hub.token

    def call(operation: str, **kwargs: Any) -> Any:
        module = importlib.import_module(f"{package.__name__}.api.{operation}")
        response = module.sync_detailed(client=api, **kwargs)
        assert response.status_code < 300, (operation, response.status_code, response.content)
        assert response.parsed is not None, (operation, response.content)
        return response.parsed

    hook = call("runtime.create", body=models.RemoteHookRequest(name="gen-hook", endpoint_url="http://127.0.0.1:9"))
    assert call("runtime.get_remote_hook", id=hook.id).name == "gen-hook"
    assert call("runtime.get_remote_hook_by_name", name="gen-hook").id == hook.id
    updated = models.RemoteHookRequest(name="gen-hook-2", endpoint_url="http://127.0.0.1:9", timeout_ms=100)
    assert call("runtime.update", id=hook.id, body=updated).timeout_ms == 100
    assert [entry.name for entry in call("runtime.list_remote_hooks")] == ["gen-hook-2"]
    call("runtime.delete", id=hook.id)

    job = jobs.job_enqueue(kind="test", func="tests.fakes.jobs.count_steps", params={"steps": 1, "pause_s": 0})
    assert call("platform.jobs_retrieve", id=str(job.id)).state == "PENDING"
    assert call("platform.jobs_cancel", id=str(job.id)).outcome == "cancelled"

    folder = layout.model_dir("huggingface", "gen-org/gen-model")
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "bert"}')
    services.local_model_record(source="huggingface", model_id="gen-org/gen-model")
    assert call("model_store.modelstore_models_retrieve", source="huggingface", model_id="gen-org/gen-model")
    assert call("model_store.modelstore_models_list")
    assert call("model_store.modelstore_status")
    assert call("model_store.modelstore_clean", body=models.CleanRequestRequest(all_=True, dry_run=True))
    assert call("model_store.modelstore_export", body=models.ExportRequestRequest())
    assert call("projects_models_cache.hub_model_info", repo_id="gen-org/gen-model").id == "gen-org/gen-model"
    assert call("projects_models_cache.hub_model_refs", repo_id="gen-org/gen-model")
    assert [
        entry.path
        for entry in call("projects_models_cache.hub_model_tree", repo_id="gen-org/gen-model", revision="main")
    ] == ["config.json"]
    assert call("open_ai_gateway.retrieve_model", model_id="gen-org/gen-model").id == "gen-org/gen-model"
    validation = call(
        "projects_models_cache.models_cache_validate_download",
        body=models.ValidateDownloadRequestRequest(model_name="tiny-org/tiny-encoder"),
    )
    assert validation.can_download and validation.required_bytes > 0
    assert call("model_store.modelstore_models_destroy", source="huggingface", model_id="gen-org/gen-model")
