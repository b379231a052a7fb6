"""Fixtures of the forecasting API tests: tiny models served by the test hub under the registry's
real repository ids (so `/api/pull` runs offline through the model store's download engine), a
store of this test's own, and a client of the forecast surface."""

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from apps.core import jobs
from apps.forecasting.residency import forecast_residency
from tests.fakes.forecast_models import (
    build_tiny_chronos2,
    build_tiny_chronos_bolt,
    build_tiny_timesfm,
    build_tiny_toto,
    build_tiny_toto2,
)
from tests.fakes.modelstore_hub import Hub
from tests.fakes.servers import database_env, database_url, manage

# The registry's default checkpoints (apps/forecasting/data/registry.json), built tiny.
CHRONOS2_REPO = "autogluon/chronos-2-small"
BOLT_REPO = "amazon/chronos-bolt-tiny"
TIMESFM_REPO = "google/timesfm-2.5-200m-pytorch"
TOTO_REPO = "Datadog/Toto-Open-Base-1.0"
TOTO2_REPO = "Datadog/Toto-2.0-4M"
BUILDERS: dict[str, Callable[[Path], Path]] = {
    CHRONOS2_REPO: build_tiny_chronos2,
    BOLT_REPO: build_tiny_chronos_bolt,
    TIMESFM_REPO: build_tiny_timesfm,
    TOTO_REPO: build_tiny_toto,
    TOTO2_REPO: build_tiny_toto2,
}


@pytest.fixture(scope="session")
def forecast_hub(hub: Hub, django_db_blocker: object, tmp_path_factory: pytest.TempPathFactory) -> Hub:
    """The session's test hub, with the tiny forecast models imported into it (once per session)."""
    base = tmp_path_factory.mktemp("forecast-repos")
    with django_db_blocker.unblock():
        env = database_env(
            DATABASE_URL=database_url({**connection.settings_dict, "NAME": hub.database}), MODELYARD_HOME=str(hub.home)
        )
    for repo_id, build in BUILDERS.items():
        folder = build(base / repo_id.replace("/", "--"))
        result = manage("import_model", str(folder), "--source", "huggingface", "--id", repo_id, env=env)
        if result.returncode != 0 and "already in the store" not in result.stdout + result.stderr:
            raise RuntimeError(f"import of {repo_id} into the hub failed:\n{result.stdout}\n{result.stderr}")
        hub.repos[repo_id] = folder
    return hub


@pytest.fixture
def forecast_store(settings: object, tmp_path: Path, forecast_hub: Hub) -> Iterator[Path]:
    """This test's store in a fresh data directory, downloading from the test hub; no engine resident."""
    settings.MODELYARD_HOME = tmp_path / "home"
    settings.MODELYARD_HOME.mkdir()
    settings.MODELYARD_HF_ENDPOINT = forecast_hub.url
    settings.MODELYARD_HF_TOKEN = forecast_hub.token
    forecast_residency().unload_all()
    yield settings.MODELYARD_HOME / "models"
    forecast_residency().unload_all()
    shutil.rmtree(settings.MODELYARD_HOME, ignore_errors=True)


class ForecastClient:
    """HTTP on the forecast surface (the port picks the URLconf), JSON in and out."""

    def __init__(self, port: int) -> None:
        self.client = Client()
        self.port = port

    def post(self, path: str, body: object) -> object:
        return self.client.post(path, body, content_type="application/json", SERVER_PORT=self.port)

    def get(self, path: str, **query: str) -> object:
        return self.client.get(path, query, SERVER_PORT=self.port)

    def delete(self, path: str, body: object) -> object:
        return self.client.delete(path, body, content_type="application/json", SERVER_PORT=self.port)


@pytest.fixture
def api(settings: object) -> ForecastClient:
    return ForecastClient(settings.MODELYARD_FORECAST_PORT)


@pytest.fixture
def pulled(api: ForecastClient, forecast_store: Path) -> Callable[..., dict]:
    """Pull a model through the API and run its download job here (as a worker would)."""

    def pull(model: str, **flags: str) -> dict:
        from apps.forecasting.models import InstalledForecastModel

        response = api.post("/api/pull", {"model": model, **flags})
        assert response.status_code == 200, response.json()
        installed = InstalledForecastModel.objects.get(name=model)
        if installed.job is not None:
            jobs.job_run(job_id=str(installed.job.id))
        return response.json()

    return pull
