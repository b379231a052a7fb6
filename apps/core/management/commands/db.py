"""`manage.py db start|stop|status|uri`: the embedded PostgreSQL server."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core import embedded_postgres


class Command(BaseCommand):
    help = "Start, stop or show the embedded PostgreSQL server (when DATABASE_URL is not set)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["start", "stop", "status", "uri"])

    def handle(self, *args: object, action: str, **options: object) -> None:
        if settings.DATABASE_URL:
            raise CommandError("DATABASE_URL is set: the database is an external server, not the embedded one")
        pgdata = settings.EMBEDDED_PGDATA
        if action in {"start", "uri"}:
            uri = embedded_postgres.ensure_running(pgdata, database=settings.DATABASES["default"]["NAME"])
            self.stdout.write(uri if action == "uri" else f"running: {uri}")
        elif action == "stop":
            stopped = embedded_postgres.stop(pgdata)
            self.stdout.write("stopped" if stopped else "was not running")
        else:
            self.stdout.write("running" if embedded_postgres.is_running(pgdata) else "stopped")
