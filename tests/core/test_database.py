"""The database: the embedded server on demand, or an external one from DATABASE_URL."""

import psycopg
import pytest

from apps.core import embedded_postgres
from tests.fakes.servers import database_env, manage

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


def test_manage_py_starts_the_embedded_server_on_demand_and_reuses_it(tmp_path):
    home = tmp_path / "home"
    env = database_env(MODELYARD_HOME=str(home))
    env.pop("DATABASE_URL")
    try:
        migrated = manage("migrate", "--noinput", env=env)
        assert migrated.returncode == 0, migrated.stderr
        first_pid = (home / "postgres" / "postmaster.pid").read_text().split()[0]

        status = manage("db", "status", env=env)
        query = manage(
            "shell",
            "-c",
            "from django.db import connection; print(connection.cursor().execute('SELECT 1').fetchone())",
            env=env,
        )

        assert status.stdout.strip() == "running"
        assert query.stdout.strip().endswith("(1,)")
        assert (home / "postgres" / "postmaster.pid").read_text().split()[0] == first_pid  # reused, not restarted
    finally:
        stopped = manage("db", "stop", env=env)
    assert stopped.stdout.strip() == "stopped"
    assert not embedded_postgres.is_running(home / "postgres")
