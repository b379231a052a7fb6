"""Fixtures of the projects tests: a data directory of their own and projects made through the API."""

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def home(settings: object, tmp_path: Path) -> Iterator[Path]:
    """A fresh MODELYARD_HOME for this test (uploads and stored files land here)."""
    settings.MODELYARD_HOME = tmp_path / "home"
    settings.MODELYARD_HOME.mkdir()
    yield settings.MODELYARD_HOME
    shutil.rmtree(settings.MODELYARD_HOME, ignore_errors=True)


@pytest.fixture
def make_project(client: object, home: Path) -> Callable[..., dict]:
    """Create a project through the API; returns its `project` body."""

    def make(name: str = "chatbot", *, namespace: str = "my-org", template: str = "rag") -> dict:
        response = client.post(
            f"/v1/projects/{namespace}", {"name": name, "config_template": template}, "application/json"
        )
        assert response.status_code == 200, response.content
        return response.json()["project"]

    return make


def stored_files(home: Path) -> list[Path]:
    """Every file under the stored-files folder (content and leftovers of uploads alike)."""
    return sorted(path for path in (home / "projects" / "files").rglob("*") if path.is_file())
