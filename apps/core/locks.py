"""PostgreSQL advisory locks: one holder at a time across every process (web, workers, manage.py)."""

import hashlib

from django.db import connection


def advisory_lock_key(name: str) -> int:
    """The 64-bit key PostgreSQL locks for `name` (stable across processes and releases)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def advisory_xact_lock(name: str) -> None:
    """Wait for the advisory lock `name`, held until the current transaction ends.

    Call it inside `transaction.atomic()`: in autocommit mode the lock is released at once."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_lock_key(name)])
