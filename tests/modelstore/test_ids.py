"""Model ids the hub client refuses are refused at the edge (400 with the surface's error body),
on every route that takes one, before any request to the hub or any job; unknown sources are 400
naming the valid ones."""

import pytest

from apps.core.models import Job

pytestmark = pytest.mark.django_db

# The ids of issue 10 (A2): each answered 500 HFValidationError before.
REFUSED_IDS = ["a/b/c", "bar-org/tiny--llama", "-/x", "bar-org/.git", "/tmp/x/y", "hf.co/org/name"]
RULES = (
    "use 'name' or 'namespace/name' of letters, digits, '-', '_' and '.' (at most 96 characters each, "
    "not starting or ending with '-' or '.', no '--' or '..', not ending in '.git')"
)


def refused(model_id: str) -> str:
    return f"invalid model id {model_id!r}: {RULES}"


@pytest.mark.parametrize("model_id", REFUSED_IDS)
def test_a_download_of_an_id_the_hub_refuses_is_400_and_starts_no_job(client, store, model_id):
    response = client.post("/api/v1/downloads", {"model_id": model_id}, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"detail": refused(model_id)}
    assert not Job.objects.exists()


@pytest.mark.parametrize("model_id", REFUSED_IDS)
@pytest.mark.parametrize("method", ["get", "delete"])
def test_show_and_delete_of_an_id_the_hub_refuses_are_400(client, store, model_id, method):
    response = getattr(client, method)(f"/api/v1/models/huggingface/{model_id}")

    assert response.status_code == 400
    assert response.json() == {"detail": refused(model_id)}


@pytest.mark.parametrize("model_id", REFUSED_IDS)
def test_the_models_cache_routes_refuse_the_id_with_400(client, store, model_id):
    download = client.post("/v1/models/download", {"model_name": model_id}, content_type="application/json")
    validate = client.post("/v1/models/validate-download", {"model_name": model_id}, content_type="application/json")
    quantizations = client.get(f"/v1/models/{model_id}/quantizations")
    delete = client.delete(f"/v1/models/{model_id}")

    for response in (download, validate, quantizations, delete):
        assert response.status_code == 400, response.request
        assert response.json() == {"detail": refused(model_id)}


@pytest.mark.parametrize("model_id", REFUSED_IDS)
def test_the_mirror_refuses_the_id_with_400_in_the_hubs_error_shape(client, store, model_id):
    info = client.get(f"/hub/api/models/{model_id}")
    tree = client.get(f"/hub/api/models/{model_id}/tree/main")
    refs = client.get(f"/hub/api/models/{model_id}/refs")
    resolve = client.head(f"/hub/{model_id}/resolve/main/config.json")
    download = client.get(f"/hub/{model_id}/resolve/main/config.json")

    for response in (info, tree, refs, download):
        assert response.status_code == 400
        assert response.json() == {"error": refused(model_id)}
    assert resolve.status_code == 400


def test_a_hub_url_is_still_taken_as_its_id_but_a_bare_host_prefix_is_not(client, store, settings):
    from apps.modelstore import services

    assert services.sources_model_id("https://huggingface.co/Qwen/Qwen2.5-7B/tree/main") == "Qwen/Qwen2.5-7B"
    response = client.post(
        "/v1/models/validate-download", {"model_name": "hf.co/Qwen/Qwen2.5-7B"}, content_type="application/json"
    )
    assert response.status_code == 400


def test_import_model_refuses_an_id_the_hub_refuses(store, tmp_path):
    from apps.core.errors import Invalid
    from apps.modelstore import services

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")

    with pytest.raises(Invalid, match="invalid model id 'team/a/b'"):
        services.local_model_import(path=folder, source="local", model_id="team/a/b")
    assert not (store / "local").exists()


# --- unknown sources (issue 10, D3) ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "delete"])
def test_show_or_delete_with_an_unknown_source_is_400_naming_the_valid_ones(client, store, method):
    response = getattr(client, method)("/api/v1/models/bogus/org/name")

    assert response.status_code == 400
    assert response.json() == {"detail": "unknown source 'bogus'; valid sources: huggingface, local"}


def test_listing_an_unknown_source_is_400_and_a_known_empty_one_is_empty(client, store):
    bogus = client.get("/api/v1/models", {"source": "bogus"})
    local = client.get("/api/v1/models", {"source": "local"})

    assert bogus.status_code == 400
    assert bogus.json() == {"detail": "unknown source 'bogus'; valid sources: huggingface, local"}
    assert local.json() == {"count": 0, "models": []}


def test_a_source_a_model_was_imported_under_is_a_valid_source(client, stored):
    stored("team/model", source="team-x")

    shown = client.get("/api/v1/models/team-x/team/model")
    bogus = client.get("/api/v1/models/bogus/team/model")

    assert shown.status_code == 200
    assert shown.json()["local"]["source"] == "team-x"
    assert bogus.json() == {"detail": "unknown source 'bogus'; valid sources: huggingface, local, team-x"}


def test_a_known_source_without_the_model_is_still_404(client, store):
    response = client.get("/api/v1/models/local/nobody/nothing")

    assert response.status_code == 404
