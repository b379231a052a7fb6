"""PostgreSQL backend that starts the embedded server on demand.

The first connection of any process (web, worker, manage.py) starts the server of the data
directory unless it runs already, and creates the project's database if it is missing.
"""

from pathlib import Path

from django.db.backends.postgresql import base

from apps.core import embedded_postgres


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict) -> object:
        try:
            return super().get_new_connection(conn_params)
        except base.Database.OperationalError:
            pgdata = Path(self.settings_dict["PGDATA"])
            name = self.settings_dict["NAME"] or ""
            # Test databases are created by the test runner, never here.
            embedded_postgres.ensure_running(pgdata, database="" if name.startswith("test_") else name)
            return super().get_new_connection(conn_params)
