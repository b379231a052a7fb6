"""The OpenAPI schema describes every API route and passes drf-spectacular's validation."""

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_the_schema_validates_without_warnings(tmp_path):
    schema_file = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema_file))

    paths = yaml.safe_load(schema_file.read_text())["paths"]
    for path in [
        "/health",
        "/health/liveness",
        "/info",
        "/v1/system/disk",
        "/api/v1/jobs/",
        "/api/v1/jobs/{id}/events/",
    ]:
        assert path in paths, path
    assert "text/event-stream" in paths["/api/v1/jobs/{id}/events/"]["get"]["responses"]["200"]["content"]


@pytest.mark.parametrize("surface", ["node", "forecast"])
def test_each_surface_has_its_own_schema(client, surface):
    response = client.get(f"/api/schema/{surface}/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "/health" in response.json()["paths"]


def test_swagger_ui_is_served_with_local_assets(client):
    page = client.get("/api/docs/")

    assert page.status_code == 200
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page.content
    assert b"cdn" not in page.content.lower()
    assert client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200
