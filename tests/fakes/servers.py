"""Real servers started as subprocesses, on the test database."""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from django.conf import settings
from django.db import connection

from project.surfaces import SURFACES

ROOT = Path(__file__).resolve().parent.parent.parent


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for the database of `settings_dict` (a socket dir goes in `?host=`)."""
    user = settings_dict["USER"]
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host, port = settings_dict["HOST"], settings_dict.get("PORT") or ""
    if host.startswith("/"):
        return f"postgresql://{user}{password}@/{settings_dict['NAME']}?host={host}"
    return f"postgresql://{user}{password}@{host}{':' + port if port else ''}/{settings_dict['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env.update(DATABASE_URL=database_url(connection.settings_dict), MODELYARD_HOME=str(settings.MODELYARD_HOME))
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


@dataclass
class LiveServer:
    """`manage.py serve` running as a subprocess: daphne on three ports plus the workers."""

    process: subprocess.Popen
    platform_port: int
    node_port: int
    forecast_port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.platform_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=30)
        return self.process.returncode


def start_live_server(log_path: Path, **extra_env: str) -> LiveServer:
    ports = {surface.name: free_port() for surface in SURFACES}  # none at its default: servers run side by side
    env = database_env(
        **{
            **{surface.port_setting: str(ports[surface.name]) for surface in SURFACES},
            "MODELYARD_WORKERS": "2",
            # The model runtime (a process of its own) and its registration as the `local` backend
            # only where a test asks for them (tests/inference).
            "MODELYARD_RUNTIME_PORT": "0",
            "MODELYARD_RUNTIME_REGISTER": "false",
            **extra_env,
        }
    )
    log_file = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve"], cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
    )
    server = LiveServer(process, ports["platform"], ports["node"], ports["forecast"], log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited with {process.returncode}:\n{server.log()}")
        try:
            body = httpx.get(f"{server.url}/health", timeout=5).json()
            if body["services"]["workers"] == "healthy":
                return server
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"serve did not become healthy in time:\n{server.log()}")


def start_runtime(
    port: int, log_path: Path, *, keep_loaded: tuple[str, ...] = (), wait: bool = True
) -> subprocess.Popen:
    """`manage.py runtime` (the model runtime alone) on `port` against the test database, loading
    `keep_loaded` as it starts; once it answers `/health` unless `wait` is False (then call
    `runtime_wait`). The caller terminates it."""
    extra = {"MODELYARD_RUNTIME_KEEP_LOADED": ",".join(keep_loaded)} if keep_loaded else {}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runtime"],
        cwd=ROOT,
        env=database_env(MODELYARD_RUNTIME_PORT=str(port), **extra),
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    if wait:
        runtime_wait(process, port, log_path)
    return process


def runtime_wait(process: subprocess.Popen, port: int, log_path: Path, timeout: float = 60) -> None:
    """Until the runtime started by `start_runtime` answers `/health`; kills it and raises if it
    exits or does not answer within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the runtime exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    process.wait()
    raise RuntimeError(f"the runtime did not answer in time:\n{log_path.read_text()}")


def process_tree(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def embedded_database_restart() -> None:
    """`pg_ctl -m fast stop` of the test session's embedded PostgreSQL, then start it again at once:
    every connection of every process (this one's too) is cut, as an operator's restart does."""
    from django.db import connections

    from apps.core import embedded_postgres

    connections.close_all()
    embedded_postgres.stop(settings.EMBEDDED_PGDATA)
    embedded_postgres.ensure_running(settings.EMBEDDED_PGDATA, on_demand=True)


def database_flush(django_db_blocker: object) -> None:
    """Delete every row in the test database, as pytest-django does after each transactional test: a
    package's live server leaves jobs, store entries and its node behind for the next package otherwise."""
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)
