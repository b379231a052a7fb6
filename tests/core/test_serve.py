"""`manage.py serve`: refuses an open API on a public address, and stops everything on Ctrl-C."""

import socket
import time

import httpx
import psutil
import pytest

from apps.core import embedded_postgres
from tests.fakes.servers import database_env, manage, process_tree, start_live_server

pytestmark = pytest.mark.e2e


@pytest.mark.django_db
def test_binding_a_public_address_without_an_api_key_is_refused(subprocess_env):
    result = manage("serve", "--host", "0.0.0.0", env=subprocess_env, timeout=60)

    assert result.returncode != 0
    assert "refusing to bind 0.0.0.0" in result.stderr
    assert "MODELYARD_API_KEY" in result.stderr


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_fresh_data_dir_serves_every_surface_and_ctrl_c_stops_all_of_it(tmp_path):
    home = tmp_path / "home"
    env_overrides = {"MODELYARD_HOME": str(home)}
    env = database_env(**env_overrides)
    env.pop("DATABASE_URL")
    assert manage("migrate", "--noinput", env=env).returncode == 0

    server = start_live_server(tmp_path / "serve.log", DATABASE_URL="", **env_overrides)
    try:
        children = process_tree(server.process.pid)
        node = httpx.get(f"http://127.0.0.1:{server.node_port}/health").json()
        forecast = httpx.get(f"http://127.0.0.1:{server.forecast_port}/health").json()
        platform = httpx.get(f"{server.url}/health").json()
    finally:
        exit_code = server.stop()

    assert node["status"] == "ok" and "os" in node["node"]
    assert forecast["status"] == "ok"
    assert platform["status"] == "healthy", platform
    assert len(children) >= 4  # daphne, qcluster and its worker processes
    assert exit_code == 0, server.log()
    time.sleep(0.5)
    assert [child.pid for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE] == []
    assert not any(port_is_open(port) for port in (server.platform_port, server.node_port, server.forecast_port))
    assert not embedded_postgres.is_running(home / "postgres")
    assert "http://127.0.0.1:" in server.log() and "createsuperuser" in server.log()
