"""The database: the embedded server on demand, or an external one from DATABASE_URL."""

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from apps.core import embedded_postgres
from tests.fakes.servers import database_env, manage, start_live_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def external_server(tmp_path):
    """A second PostgreSQL, standing for a server the operator runs."""
    pgdata = tmp_path / "external-pg"
    uri = embedded_postgres.ensure_running(pgdata, database="external")
    yield uri, embedded_postgres.socket_dir(pgdata)
    embedded_postgres.stop(pgdata)


def test_database_url_puts_everything_on_the_external_server(external_server, tmp_path):
    _, socket_dir = external_server
    home = tmp_path / "home"
    env = database_env(DATABASE_URL=f"postgresql://postgres@/external?host={socket_dir}", MODELYARD_HOME=str(home))

    result = manage("migrate", "--noinput", env=env)

    assert result.returncode == 0, result.stderr
    with psycopg.connect(f"postgresql://postgres@/external?host={socket_dir}") as connection:
        tables = {row[0] for row in connection.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
        extensions = {row[0] for row in connection.execute("SELECT extname FROM pg_extension")}
    assert {"core_job", "core_apikey", "django_q_ormq", "modelyard_cache"} <= tables
    assert "vector" in extensions
    assert not (home / "postgres" / "PG_VERSION").exists()  # no embedded server was started


def postmaster_pid(pgdata: Path) -> str:
    return (pgdata / "postmaster.pid").read_text().split()[0]


def embedded_env(home: Path) -> dict[str, str]:
    """Environment for a manage.py subprocess on the embedded server of `home` (no DATABASE_URL)."""
    env = database_env(MODELYARD_HOME=str(home))
    env.pop("DATABASE_URL")
    return env


def select_one(uri: str) -> tuple:
    with psycopg.connect(uri, connect_timeout=5) as connection:
        return connection.execute("SELECT 1").fetchone()


def test_db_start_keeps_the_server_up_for_later_commands_until_db_stop(tmp_path):
    home = tmp_path / "home"
    env = embedded_env(home)
    try:
        started = manage("db", "start", env=env)
        assert started.returncode == 0, started.stderr
        first_pid = postmaster_pid(home / "postgres")

        migrated = manage("migrate", "--noinput", env=env)
        status = manage("db", "status", env=env)
        query = manage(
            "shell",
            "-c",
            "from django.db import connection; print(connection.cursor().execute('SELECT 1').fetchone())",
            env=env,
        )

        assert migrated.returncode == 0, migrated.stderr
        assert status.stdout.strip() == "running"
        assert query.stdout.strip().endswith("(1,)")
        assert postmaster_pid(home / "postgres") == first_pid  # reused, not restarted, and left running
    finally:
        stopped = manage("db", "stop", env=env)
    assert stopped.stdout.strip() == "stopped"
    assert not embedded_postgres.is_running(home / "postgres")


def test_a_command_on_a_fresh_data_dir_starts_the_server_and_stops_it_when_it_exits(tmp_path):
    home = tmp_path / "home"
    env = embedded_env(home)
    try:
        # What `make lint` runs on a fresh clone: it once left a PostgreSQL running on var/postgres.
        manage("makemigrations", "--check", "--dry-run", env=env)
        started_one = (home / "postgres" / "PG_VERSION").exists()
        after_makemigrations = embedded_postgres.server_state(home / "postgres")
        migrated = manage("migrate", "--noinput", env=env)
        after_migrate = embedded_postgres.server_state(home / "postgres")
    finally:
        embedded_postgres.stop(home / "postgres")

    assert started_one  # makemigrations needed the database and started a server
    assert migrated.returncode == 0, migrated.stderr
    assert (after_makemigrations, after_migrate) == ("stopped", "stopped")


def test_starting_right_after_a_stop_works_five_times_in_a_row(tmp_path):
    pgdata = tmp_path / "pg"
    answers = []
    for _ in range(5):
        uri = embedded_postgres.ensure_running(pgdata, database="loop")
        answers.append(select_one(uri.replace("/postgres?", "/loop?")))
        assert embedded_postgres.stop(pgdata) is True
        assert embedded_postgres.server_state(pgdata) == "stopped"

    assert answers == [(1,)] * 5


def test_a_start_while_the_server_is_still_stopping_waits_for_the_stop_then_starts(tmp_path):
    from embedded_postgres import pg_ctl

    pgdata = tmp_path / "pg"
    user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        for _ in range(5):
            uri = embedded_postgres.ensure_running(pgdata)
            client = psycopg.connect(uri)  # a smart shutdown waits for this client: "stopping" lasts
            pg_ctl(["-m", "smart", "-W", "stop"], pgdata=pgdata.resolve(), user=user)  # -W: do not wait
            wait = time.monotonic() + 10
            while embedded_postgres.server_state(pgdata) != "stopping" and time.monotonic() < wait:
                time.sleep(0.05)
            assert embedded_postgres.server_state(pgdata) == "stopping"

            with ThreadPoolExecutor(max_workers=1) as executor:
                start = executor.submit(embedded_postgres.ensure_running, pgdata)
                time.sleep(0.5)
                assert not start.done()  # waiting out the stop, not failing on it
                client.close()
                uri = start.result(timeout=60)

            assert select_one(uri) == (1,)
    finally:
        embedded_postgres.stop(pgdata)


def test_a_stale_pid_file_naming_a_live_stranger_does_not_pass_for_a_running_server(tmp_path):
    pgdata = tmp_path / "pg"
    embedded_postgres.ensure_running(pgdata)
    pid_file = (pgdata / "postmaster.pid").read_text().splitlines()
    embedded_postgres.stop(pgdata)
    stranger = subprocess.Popen(["sleep", "60"])  # the dead server's PID, now some other process
    try:
        (pgdata / "postmaster.pid").write_text("\n".join([str(stranger.pid), *pid_file[1:]]) + "\n")
        assert embedded_postgres.server_state(pgdata) == "stale"

        uri = embedded_postgres.ensure_running(pgdata)

        assert select_one(uri) == (1,)
        assert postmaster_pid(pgdata) != str(stranger.pid)
    finally:
        stranger.kill()
        stranger.wait()
        embedded_postgres.stop(pgdata)


def test_a_command_run_while_serve_runs_does_not_stop_serves_server(tmp_path):
    home = tmp_path / "home"
    env = embedded_env(home)
    assert manage("migrate", "--noinput", env=env).returncode == 0
    server = start_live_server(tmp_path / "serve.log", DATABASE_URL="", MODELYARD_HOME=str(home))
    try:
        serves_postgres = postmaster_pid(home / "postgres")

        query = manage(
            "shell",
            "-c",
            "from django.db import connection; print(connection.cursor().execute('SELECT 1').fetchone())",
            env=env,
        )

        assert query.returncode == 0, query.stderr
        assert query.stdout.strip().endswith("(1,)")
        assert postmaster_pid(home / "postgres") == serves_postgres
        assert httpx.get(f"{server.url}/health", timeout=10).json()["services"]["database"] == "healthy"
    finally:
        exit_code = server.stop()
    assert exit_code == 0, server.log()
    assert embedded_postgres.server_state(home / "postgres") == "stopped"  # serve, the last user, stopped it


def test_db_start_then_serve_then_ctrl_c_leaves_the_server_up_until_db_stop(tmp_path):
    home = tmp_path / "home"
    env = embedded_env(home)
    try:
        assert manage("db", "start", env=env).returncode == 0
        held_pid = postmaster_pid(home / "postgres")
        assert manage("migrate", "--noinput", env=env).returncode == 0
        server = start_live_server(tmp_path / "serve.log", DATABASE_URL="", MODELYARD_HOME=str(home))
        exit_code = server.stop()  # SIGINT, as Ctrl-C

        assert exit_code == 0, server.log()
        assert postmaster_pid(home / "postgres") == held_pid  # never stopped, never restarted
        assert "keeps running (`db start`)" in server.log()
        assert manage("db", "status", env=env).stdout.strip() == "running"
    finally:
        stopped = manage("db", "stop", env=env)
    assert stopped.stdout.strip() == "stopped"
    assert not embedded_postgres.is_running(home / "postgres")
