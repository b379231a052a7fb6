"""The runtime's admin page, against a real `manage.py runtime` process: loaded models with their
memory and last use, and the unload action; a runtime that is down is said, not a 500."""

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from django.contrib.auth.models import User

from apps.inference.models import RuntimeModel
from apps.modelstore.units import human_size_binary
from tests.fakes.servers import ROOT, database_env, free_port

pytestmark = [pytest.mark.ml, pytest.mark.e2e]
CHANGELIST = "/admin/inference/runtimemodel/"


@pytest.fixture
def admin_client(client, db: None):
    client.force_login(User.objects.create_superuser("admin", "admin@example.org", "pw"))
    return client


@pytest.fixture
def runtime_process(settings, tmp_path) -> Iterator[str]:
    """`manage.py runtime` on a free port of the test database; yields its URL."""
    port = free_port()
    settings.MODELYARD_RUNTIME_PORT = port
    log = (tmp_path / "runtime.log").open("w")
    env = database_env(MODELYARD_RUNTIME_PORT=str(port))
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runtime"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_the_admin_shows_what_the_runtime_has_loaded_and_unloads_it(admin_client, stored_tiny, runtime_process):
    stored_tiny("tiny/embedder")
    stored_tiny("tiny/chat")
    assert (
        httpx.post(
            f"{runtime_process}/v1/embeddings", json={"model": "tiny/embedder", "input": "x"}, timeout=120
        ).status_code
        == 200
    )

    loaded = {item["id"]: item for item in httpx.get(f"{runtime_process}/v1/models").json()["data"]}
    page = admin_client.get(CHANGELIST).content.decode()
    embedder = RuntimeModel.objects.get(model_id="tiny/embedder")
    response = admin_client.post(
        CHANGELIST, {"action": "unload", "index": 0, "_selected_action": [embedder.pk]}, follow=True
    ).content.decode()
    models = {item["id"]: item for item in httpx.get(f"{runtime_process}/v1/models").json()["data"]}

    assert "tiny/embedder" in page and "tiny/chat" in page and "embedding" in page
    assert human_size_binary(loaded["tiny/embedder"]["memory_bytes"]) in page and " UTC" in page  # memory, last use
    assert "Unloaded from the model runtime: tiny/embedder" in response
    assert models["tiny/embedder"]["loaded"] is False


def test_the_admin_says_when_the_runtime_does_not_answer(admin_client, stored_tiny, settings):
    settings.MODELYARD_RUNTIME_PORT = free_port()
    stored_tiny("tiny/chat")

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    assert "does not answer" in response.content.decode()
