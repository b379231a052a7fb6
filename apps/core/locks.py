"""PostgreSQL advisory locks: one holder at a time across every process (web, workers, manage.py)."""

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator

from django.db import connection


def advisory_lock_key(name: str) -> int:
    """The 64-bit key PostgreSQL locks for `name` (stable across processes and releases)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def advisory_xact_lock(name: str) -> None:
    """Wait for the advisory lock `name`, held until the current transaction ends.

    Call it inside `transaction.atomic()`: in autocommit mode the lock is released at once."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_lock_key(name)])


@contextlib.contextmanager
def advisory_lock(name: str, *, poll_s: float = 0.5, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the session-level advisory lock `name` for the `with` block, outside any transaction
    (for long work that commits as it goes, such as a job reporting progress).

    Tries every `poll_s` until it gets the lock, calling `on_wait` between tries (to report, or to
    stop by raising). Released at the block's end, or with the session when the process dies."""
    key = advisory_lock_key(name)
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            if cursor.fetchone()[0]:
                break
        if on_wait is not None:
            on_wait()
        time.sleep(poll_s)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
