"""PostgreSQL backend that starts the embedded server on demand.

The first connection of any process (web, worker, manage.py) takes a lease on the server of the
data directory, starting it unless it runs already; the last leaseholder to exit stops a server
that was started this way (see `core.embedded_postgres`). A connection that fails later (the
server was stopped under us, or the project's database is missing) starts the server again and
creates the database.

Every session carries the `application_name` `modelyard <host>:<pid>` of its process, read when
it connects (so a forked worker's sessions name the worker): recovery ends the sessions of a
worker that went silent, and their session-level locks with them (`core.jobs.recovery`).
"""

from pathlib import Path

from django.db.backends.postgresql import base

from apps.core import embedded_postgres
from apps.core.processes import application_name_of, process_name


class DatabaseWrapper(base.DatabaseWrapper):
    def ensure_connection(self) -> None:
        """Replace a connection the server dropped (it restarted) instead of failing on it for
        ever: processes that never call `close_old_connections` (django-q2's sentinel saving its
        statistics, a worker's job) get a new connection at their next query, outside a transaction."""
        if self.connection is not None and self.connection.closed and not self.in_atomic_block:
            self.close()
        super().ensure_connection()

    def get_connection_params(self) -> dict:
        params = super().get_connection_params()
        params.setdefault("application_name", application_name_of(process_name()))
        return params

    def get_new_connection(self, conn_params: dict) -> object:
        pgdata = Path(self.settings_dict["PGDATA"])
        embedded_postgres.lease_take(pgdata)
        try:
            return super().get_new_connection(conn_params)
        except base.Database.OperationalError:
            name = self.settings_dict["NAME"] or ""
            # Test databases are created by the test runner, never here.
            database = "" if name.startswith("test_") else name
            embedded_postgres.ensure_running(pgdata, database=database, on_demand=True)
            return super().get_new_connection(conn_params)
