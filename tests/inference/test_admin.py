"""The runtime's admin page, against a real `manage.py runtime` process: loaded models with their
memory and last use, and the unload action; a runtime that is down is said, not a 500. And the
backends list, which says whether the `local` backend's runtime answers `/health`, even when it is
down or hangs."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from django.contrib.auth.models import User

from apps.backends.models import Backend
from apps.inference.models import RuntimeModel
from apps.inference.remote import HEALTH_TIMEOUT_S
from apps.modelstore.units import human_size_binary
from tests.fakes.servers import ROOT, database_env, free_port

pytestmark = [pytest.mark.ml, pytest.mark.e2e]
CHANGELIST = "/admin/inference/runtimemodel/"
BACKENDS = "/admin/backends/backend/"


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


def backends_page_row(admin_client, name: str) -> str:
    """The backends list's row of backend `name`, as HTML."""
    page = admin_client.get(BACKENDS)
    assert page.status_code == 200
    html = page.content.decode()
    start = html.index(f">{name}<")
    return html[start : html.index("</tr>", start)]


@pytest.mark.django_db(transaction=True)
def test_the_admin_shows_what_the_runtime_has_loaded_and_unloads_it(admin_client, stored_tiny, runtime_process):
    """One runtime process for both pages: the runtime's models, and the backends list's health column."""
    Backend.objects.create(name="local-runtime", base_url=runtime_process, type="local")
    Backend.objects.create(name="remote-ollama", base_url="http://127.0.0.1:9", type="ollama")
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
    local_row, other_row = (
        backends_page_row(admin_client, "local-runtime"),
        backends_page_row(admin_client, "remote-ollama"),
    )
    embedder = RuntimeModel.objects.get(model_id="tiny/embedder")
    response = admin_client.post(
        CHANGELIST, {"action": "unload", "index": 0, "_selected_action": [embedder.pk]}, follow=True
    ).content.decode()
    models = {item["id"]: item for item in httpx.get(f"{runtime_process}/v1/models").json()["data"]}

    assert "tiny/embedder" in page and "tiny/chat" in page and "embedding" in page
    assert human_size_binary(loaded["tiny/embedder"]["memory_bytes"]) in page and " UTC" in page  # memory, last use
    assert "Unloaded from the model runtime: tiny/embedder" in response
    assert models["tiny/embedder"]["loaded"] is False
    memory = human_size_binary(loaded["tiny/embedder"]["memory_bytes"])
    assert f"answers: 1 model loaded, {memory} of " in local_row
    assert "answers" not in other_row and "does not answer" not in other_row  # only the local runtime is asked


def test_the_admin_says_when_the_runtime_does_not_answer(admin_client, stored_tiny, settings):
    settings.MODELYARD_RUNTIME_PORT = free_port()
    stored_tiny("tiny/chat")

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    assert "does not answer" in response.content.decode()


@pytest.mark.django_db
def test_the_backends_list_says_when_the_local_runtime_does_not_answer(admin_client):
    Backend.objects.create(name="local-runtime", base_url=f"http://127.0.0.1:{free_port()}", type="local")

    row = backends_page_row(admin_client, "local-runtime")

    assert "does not answer" in row


@pytest.mark.django_db
def test_the_backends_list_waits_for_a_hung_runtime_only_a_moment(admin_client):
    with socket.socket() as hung:  # accepts connections (the kernel does), never answers
        hung.bind(("127.0.0.1", 0))
        hung.listen()
        Backend.objects.create(
            name="local-runtime", base_url=f"http://127.0.0.1:{hung.getsockname()[1]}/v1", type="local"
        )

        started = time.monotonic()
        row = backends_page_row(admin_client, "local-runtime")
        elapsed = time.monotonic() - started

    assert f"does not answer (no answer within {HEALTH_TIMEOUT_S:g} s)" in row
    assert elapsed < HEALTH_TIMEOUT_S + 2
