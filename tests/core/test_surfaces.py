"""Surfaces: each port serves its own spec, with its own /health."""

import socket

import pytest

from project.surfaces import PLATFORM, surface_for_port

pytestmark = pytest.mark.django_db


def test_the_node_port_answers_the_node_health():
    from django.test import Client

    response = Client().get("/health", SERVER_PORT=8787)
    assert response.json() == {"status": "ok", "node": {"name": socket.gethostname(), "os": "linux"}}


def test_the_node_name_comes_from_the_environment(client, settings):
    settings.MODELYARD_NODE_NAME = "worker-1"
    assert client.get("/health", SERVER_PORT=8787).json()["node"] == {"name": "worker-1", "os": "linux"}


def test_the_forecast_port_answers_the_forecast_health(client, settings):
    assert client.get("/health", SERVER_PORT=11435).json() == {"status": "ok", "version": settings.MODELYARD_VERSION}


def test_platform_routes_are_not_served_on_the_node_port(client):
    response = client.get("/api/v1/jobs/", SERVER_PORT=8787)
    assert (response.status_code, response.json()) == (404, {"error": "Not found"})


def test_ports_come_from_settings_and_zero_disables_a_surface(client, settings):
    settings.MODELYARD_NODE_PORT = 9999
    assert client.get("/health", SERVER_PORT=9999).json()["status"] == "ok"
    assert "node" in client.get("/health", SERVER_PORT=9999).json()

    settings.MODELYARD_NODE_PORT = 0
    assert surface_for_port(0) is PLATFORM
    assert surface_for_port(9999) is PLATFORM


def test_the_platform_health_reports_the_real_state_of_each_service(client, settings):
    body = client.get("/health").json()

    assert body["version"] == settings.MODELYARD_VERSION
    assert body["node"]["os"] == "linux"
    assert body["services"]["api"] == "healthy"
    assert body["services"]["database"] == "healthy"
    assert body["services"]["channel_layer"] == "healthy"
    # No worker cluster runs inside the test process.
    assert body["services"]["workers"] == "unhealthy: no worker cluster is running"
    assert body["status"] == "degraded"


def test_liveness_root_info_and_disk_follow_the_projects_spec(client, settings):
    assert client.get("/health/liveness").json() == {"status": "alive"}
    assert client.get("/").json() == {"message": "Hello, World!"}
    assert client.get("/info").json() == {
        "version": settings.MODELYARD_VERSION,
        "data_directory": str(settings.MODELYARD_HOME),
    }
    disk = client.get("/v1/system/disk").json()
    assert set(disk) == {"cache", "system"}
    assert disk["cache"]["path"] == str(settings.MODELYARD_HOME / "models")
    assert disk["system"]["path"] == "/"
    for usage in disk.values():
        assert usage["total_bytes"] >= usage["free_bytes"] > 0
        assert 0 < usage["percent_free"] <= 100


def test_routes_answer_with_or_without_a_trailing_slash(client):
    assert client.get("/api/v1/jobs").status_code == 200
    assert client.get("/api/v1/jobs/").status_code == 200
