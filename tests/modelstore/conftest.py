"""Fixtures of the model store's tests: the mirror they download from, and a store of their own."""

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from apps.modelstore import layout, services
from apps.modelstore.models import LocalModel
from tests.fakes.modelstore_hub import Hub


@pytest.fixture
def store(settings: object, tmp_path: Path) -> Iterator[Path]:
    """This process's store in a fresh data directory; yields the models folder."""
    settings.MODELYARD_HOME = tmp_path / "home"
    settings.MODELYARD_HOME.mkdir()
    yield settings.MODELYARD_HOME / "models"
    shutil.rmtree(settings.MODELYARD_HOME, ignore_errors=True)


@pytest.fixture
def hub_store(store: Path, hub: Hub, settings: object) -> Path:
    """A store whose source is the test mirror (as `MODELYARD_HF_ENDPOINT`/`MODELYARD_HF_TOKEN` would set)."""
    settings.MODELYARD_HF_ENDPOINT = hub.url
    settings.MODELYARD_HF_TOKEN = hub.token
    return store


@pytest.fixture
def stored(store: Path) -> Callable[..., LocalModel]:
    """Put a model in the store: writes its files and records it, as an import would."""

    def make(
        model_id: str, *, source: str = "local", files: dict[str, bytes] | None = None, **fields: object
    ) -> LocalModel:
        folder = layout.model_dir(source, model_id)
        for name, content in (
            files or {"config.json": b'{"model_type": "bert"}', "model.safetensors": b"\0" * 64}
        ).items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(content)
        model = services.local_model_record(source=source, model_id=model_id)
        if fields:
            LocalModel.objects.filter(pk=model.pk).update(**fields)
            model.refresh_from_db()
        return model

    return make
