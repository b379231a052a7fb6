"""Fixtures of the nodes tests: the catalog, a fixed hardware profile, and a second node on 127.0.0.1."""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from apps.nodes import services
from apps.nodes.hardware import Hardware, hardware_cache_clear
from apps.nodes.models import CatalogModel
from tests.fakes.servers import ROOT, database_env, free_port
from tests.nodes.profiles import GPU_BOX_24GB, LAPTOP_16GB


@pytest.fixture
def catalog(db: None) -> None:
    """The shipped catalog. Other apps' transactional tests empty every table, the migration's rows too."""
    if not CatalogModel.objects.exists():
        services.catalog_sync()


def write_profile(path: Path, hardware: Hardware) -> Path:
    path.write_text(json.dumps({"system": hardware.as_system_dict()}))
    return path


@pytest.fixture
def use_hardware(settings, tmp_path: Path) -> Iterator:
    """`use_hardware(profile)`: this node reports `profile` (MODELYARD_NODES_HARDWARE_FILE)."""

    def use(hardware: Hardware) -> Hardware:
        settings.MODELYARD_NODES_HARDWARE_FILE = str(write_profile(tmp_path / f"hw-{id(hardware)}.json", hardware))
        hardware_cache_clear()
        return hardware

    yield use
    hardware_cache_clear()


@dataclass
class NodeServer:
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_node_server(folder: Path, *, name: str, hardware: Hardware, **extra_env: str) -> NodeServer:
    """A real node surface (daphne, no workers) on the test database, reporting `hardware`."""
    port = free_port()
    env = database_env(
        MODELYARD_NODE_PORT=str(port),
        MODELYARD_PLATFORM_PORT=str(free_port()),
        MODELYARD_FORECAST_PORT="0",
        MODELYARD_NODE_NAME=name,
        MODELYARD_NODES_HARDWARE_FILE=str(write_profile(folder / "hardware.json", hardware)),
        **extra_env,
    )
    log_path = folder / "daphne.log"
    command = [sys.executable, "-m", "daphne", "-e", f"tcp:port={port}:interface=127.0.0.1", "project.asgi:application"]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = NodeServer(process, port, log_path)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"node {name} did not start:\n{log_path.read_text()}")
        time.sleep(0.2)


def stop_node_server(server: NodeServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="module")
def second_node(
    django_db_setup: None, django_db_blocker: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeServer]:
    """worker-2: a node surface with the 24 GB GPU box's hardware, open (no API key)."""
    with django_db_blocker.unblock():
        server = start_node_server(tmp_path_factory.mktemp("worker-2"), name="worker-2", hardware=GPU_BOX_24GB)
    yield server
    stop_node_server(server)


@pytest.fixture(scope="module")
def secured_node(
    django_db_setup: None, django_db_blocker: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeServer]:
    """worker-3: a node surface that wants the API key `worker-3-key-0123456789`."""
    with django_db_blocker.unblock():
        server = start_node_server(
            tmp_path_factory.mktemp("worker-3"),
            name="worker-3",
            hardware=LAPTOP_16GB,
            MODELYARD_API_KEY="worker-3-key-0123456789",
        )
    yield server
    stop_node_server(server)


@pytest.fixture
def dead_url() -> str:
    """A node URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"
