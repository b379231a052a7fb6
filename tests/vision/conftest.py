"""Fixtures of the vision tests: a real Modelyard (daphne + workers) with small limits, whose OCR
runs on its workers, and tiny document models put in its model store."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from tests.fakes.servers import LiveServer, database_flush, start_live_server

# The live server's limits: small, so that the 413 cases cost nothing.
MAX_PAGES = 4
MAX_PIXELS = 6_000_000
DONUT_ID = "tests/tiny-donut-docvqa"
LAYOUT_IDS = {
    "token": "tests/tiny-layoutlmv3-fields",
    "qa": "tests/tiny-layoutlmv3-docvqa",
    "sequence": "tests/tiny-layoutlmv3-rvlcdip",
}


@dataclass
class VisionServer:
    server: LiveServer
    home: Path
    http: httpx.Client


def start_vision_server(home: Path) -> LiveServer:
    """`manage.py serve` with the vision limits above; its own data directory, this process's secret key.
    One worker: the OCR engine and transformers load once (every request waits for its job anyway)."""
    return start_live_server(
        home / "serve.log",
        MODELYARD_WORKERS="1",
        MODELYARD_HOME=str(home),
        MODELYARD_VISION_MAX_PAGES=str(MAX_PAGES),
        MODELYARD_VISION_MAX_PIXELS=str(MAX_PIXELS),
        MODELYARD_SECRET_KEY=settings.SECRET_KEY,
    )


# Package scope, never session: the server's workers take any job queued in the test database,
# and would run (with their own data directory) the jobs of the tests that follow.
@pytest.fixture(scope="package")
def vision_server(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[VisionServer]:
    home = tmp_path_factory.mktemp("vision-home")
    with django_db_blocker.unblock():
        server = start_vision_server(home)
    http = httpx.Client(base_url=server.url, timeout=120)
    yield VisionServer(server=server, home=home, http=http)
    http.close()
    server.stop()
    database_flush(django_db_blocker)


@pytest.fixture(scope="package")
def document_models(vision_server, django_db_blocker, tmp_path_factory) -> Iterator[dict[str, str]]:
    """Tiny Donut and LayoutLMv3 models (random weights) in the model store: ids by kind."""
    from apps.modelstore import services
    from tests.fakes.vision_documents import build_tiny_donut, build_tiny_layoutlmv3

    built = tmp_path_factory.mktemp("vision-models")
    folders = {"donut": (DONUT_ID, build_tiny_donut(built / "donut"))}
    for head, model_id in LAYOUT_IDS.items():
        folders[head] = (model_id, build_tiny_layoutlmv3(built / head, head=head))
    with django_db_blocker.unblock():
        for model_id, folder in folders.values():
            services.local_model_import(path=folder, source="huggingface", model_id=model_id)
    yield {kind: model_id for kind, (model_id, _) in folders.items()}
    with django_db_blocker.unblock():
        for model_id, _ in folders.values():
            services.local_model_delete(source="huggingface", model_id=model_id)
