"""Gated repositories (issue 10, A8), against a hub that gates one repository the way huggingface.co
does: public metadata carrying `gated`, files refused with 401/403 `X-Error-Code: GatedRepo`."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.core.errors import Forbidden
from apps.core.models import Job
from apps.modelstore.downloads import ModelDownload
from apps.modelstore.models import LocalModel
from tests.fakes.modelstore_hub import GATED_GRANTED_TOKEN, GGUF, LLAMA, GatedHub, file_sha256

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


@pytest.fixture
def gated(hub, store, settings) -> Iterator[GatedHub]:
    """The test hub with GGUF gated; the store asks it without a token unless a test sets one."""
    with GatedHub(hub, gated=(GGUF,)) as proxy:
        settings.MODELYARD_HF_ENDPOINT = proxy.url
        settings.MODELYARD_HF_TOKEN = ""
        yield proxy


def no_token_message(url: str) -> str:
    return (
        f"model '{GGUF}' is gated on {url}: request access at {url}/{GGUF} and set MODELYARD_HF_TOKEN "
        "to a token of an account that has it"
    )


def test_a_download_without_a_token_is_403_naming_the_repo_and_what_to_do(client, gated):
    response = client.post("/api/v1/downloads", {"model_id": GGUF}, content_type="application/json")

    assert response.status_code == 403
    assert response.json() == {"detail": no_token_message(gated.url)}
    assert not Job.objects.exists()
    assert not LocalModel.objects.exists()


def test_a_download_with_a_token_without_access_is_403_saying_to_request_access(client, gated, settings):
    settings.MODELYARD_HF_TOKEN = "someone-else"

    response = client.post("/api/v1/downloads", {"model_id": GGUF}, content_type="application/json")

    assert response.status_code == 403
    assert response.json() == {
        "detail": f"model '{GGUF}' is gated on {gated.url} and the token in MODELYARD_HF_TOKEN has no access to it: "
        f"request access at {gated.url}/{GGUF}"
    }


def test_the_sse_download_refuses_a_gated_repo_with_403_json(client, gated):
    response = client.post(
        "/v1/models/download", {"model_name": GGUF}, content_type="application/json", HTTP_ACCEPT="text/event-stream"
    )

    assert response.status_code == 403
    assert response.json() == {"detail": no_token_message(gated.url)}


def test_validate_download_says_it_cannot_download_and_why(client, gated, hub):
    response = client.post(
        "/v1/models/validate-download",
        {"model_name": GGUF, "include_patterns": ["*Q4_K_M*"]},
        content_type="application/json",
    )

    body = response.json()
    assert response.status_code == 200
    assert body["can_download"] is False
    assert body["warning"] is False
    assert body["message"] == no_token_message(gated.url)
    assert body["required_bytes"] == 300_000


def test_a_repo_that_is_not_gated_still_validates_and_downloads(client, gated):
    validate = client.post("/v1/models/validate-download", {"model_name": LLAMA}, content_type="application/json")

    assert validate.json()["can_download"] is True


def test_search_and_show_carry_the_hubs_gated_field(client, gated):
    results = client.get("/api/v1/search", {"query": "tiny"}).json()["results"]
    shown = client.get(f"/api/v1/models/huggingface/{GGUF}").json()
    other = client.get(f"/api/v1/models/huggingface/{LLAMA}").json()

    assert {result["model_id"]: result["gated"] for result in results}[GGUF] == "manual"
    assert {result["model_id"]: result["gated"] for result in results}[LLAMA] is False
    assert shown["remote"]["gated"] == "manual"
    assert other["remote"]["gated"] is False


def test_a_token_with_access_downloads_the_gated_repo(client, gated, hub, settings):
    settings.MODELYARD_HF_TOKEN = GATED_GRANTED_TOKEN

    validate = client.post(
        "/v1/models/validate-download",
        {"model_name": GGUF, "include_patterns": ["*Q4_K_M*"]},
        content_type="application/json",
    )

    assert validate.json()["can_download"] is True
    model = ModelDownload(source="huggingface", model_id=GGUF, include_patterns=["*Q4_K_M*"]).run()

    assert model["files"] == ["tiny-gguf-Q4_K_M.gguf"]
    assert file_sha256(Path(model["path"]) / "tiny-gguf-Q4_K_M.gguf") == hub.sha256[GGUF]["tiny-gguf-Q4_K_M.gguf"]


def test_the_download_engine_fails_on_a_gated_file_with_the_same_reason(gated):
    with pytest.raises(Forbidden) as refusal:
        ModelDownload(source="huggingface", model_id=GGUF, include_patterns=["*Q4_K_M*"]).run()

    assert refusal.value.message == no_token_message(gated.url)
    assert not LocalModel.objects.exists()
