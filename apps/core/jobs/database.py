"""Reaching the database again after it was lost (server restarted, socket gone, connection closed)."""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)

# Back-off between two tries to reach a lost database.
DB_RETRY_FIRST_S = 0.5
DB_RETRY_MAX_S = 5.0

# The errors of a lost database connection (server restarted, socket gone, connection closed).
DATABASE_LOST = (OperationalError, InterfaceError)

T = TypeVar("T")


def with_database(operation: Callable[[], T], *, what: str) -> T:
    """Run `operation` (a few ORM calls, outside any transaction); when the database connection
    was lost, close it and try again with back-off for MODELYARD_JOB_DB_RETRY_S, then re-raise."""
    deadline = time.monotonic() + settings.MODELYARD_JOB_DB_RETRY_S
    delay = DB_RETRY_FIRST_S
    while True:
        try:
            return operation()
        except DATABASE_LOST as error:
            if connection.in_atomic_block or time.monotonic() + delay > deadline:
                raise
            logger.warning("lost the database while %s (%s); trying again in %.1fs", what, error, delay)
            close_connection()
            time.sleep(delay)
            delay = min(delay * 2, DB_RETRY_MAX_S)


def close_connection() -> None:
    """Close this thread's database connection, so that the next query reconnects."""
    try:
        connection.close()
    except Exception:  # closing a connection whose server is gone may complain: it is closed anyway
        connection.connection = None
