"""`manage.py serve`: daphne on every enabled surface's port, plus the django-q2 workers and the
model runtime (`manage.py runtime`, on the runtime surface's port: models load only there).

Each child runs as the leader of its own process group and dies with `serve` (PR_SET_PDEATHSIG),
so no process of the tree ever outlives it, even `kill -9` of `serve`. When the worker cluster's
leader dies, its whole group is killed and the cluster restarted (with a back-off), while the web
surfaces keep serving (the model runtime is restarted the same way); the new cluster's workers
requeue the job the dead one was running.
Ctrl-C (or SIGTERM) stops the server, the workers and the embedded PostgreSQL, in that order; the
database keeps running if another process still uses it or `manage.py db start` holds it
(`core.embedded_postgres` leases).
"""

import signal
import sys
import threading
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.core import embedded_postgres
from apps.core.auth import api_keys_configured, is_loopback
from apps.core.processes import ProcessGroup, supervise
from project.surfaces import RUNTIME, enabled_surfaces, model_process_surfaces

STOP_GRACE_S = 10


def daphne_endpoint(host: str, port: int) -> str:
    interface = host.replace(":", r"\:")  # IPv6 addresses need their colons escaped
    return f"tcp:port={port}:interface={interface}"


class Command(BaseCommand):
    help = "Serve every enabled surface (platform, node, forecast) with daphne, and run the workers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.MODELYARD_BIND, help="Address to bind (env MODELYARD_BIND).")
        parser.add_argument("--no-workers", action="store_true", help="Do not start the django-q2 cluster.")
        parser.add_argument("--keep-db", action="store_true", help="Leave the embedded PostgreSQL running on exit.")

    def handle(self, *args: object, **options: object) -> None:
        host = str(options["host"])
        surfaces = enabled_surfaces()
        if not surfaces:
            raise CommandError("every surface is disabled (all MODELYARD_*_PORT are 0): nothing to serve")
        connection.ensure_connection()  # starts the embedded server when there is no DATABASE_URL
        self._refuse_unapplied_migrations()  # before anything reads a table (the API key check does)
        if not is_loopback(host) and not api_keys_configured():
            raise CommandError(
                f"refusing to bind {host}: with no API key configured the API is open to anyone who can "
                "reach it. Set MODELYARD_API_KEY or run `manage.py apikey create --name NAME`, "
                "or bind 127.0.0.1."
            )

        stopping = False

        def request_stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        for stop_signal in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(stop_signal, request_stop)

        web = self._group("web", self._daphne_command(host, [s for s in surfaces if not s.own_process]))
        workers = None if options["no_workers"] else self._group("workers", [sys.executable, "manage.py", "qcluster"])
        runtime = None
        if model_process_surfaces():  # the runtime and forecast surfaces: models load only in that process
            runtime = self._group("model runtime", [sys.executable, "manage.py", "runtime", "--host", host])
        if RUNTIME in surfaces:
            self._run_start_hooks()
        self._print_banner(host, surfaces, with_workers=workers is not None)

        exit_code = 0
        try:
            exit_code = supervise(
                web,
                workers,
                stop_requested=lambda: stopping,
                log=self.stderr.write,
                others=(runtime,) if runtime else (),
            )
        finally:
            self.stdout.write("Stopping…")
            for group in (web, workers, runtime):
                if group is not None:
                    group.stop(grace=STOP_GRACE_S)
            connection.close()
            self._release_database(keep=bool(options["keep_db"]))
            self.stdout.write("Stopped.")
        if exit_code:
            raise SystemExit(exit_code)

    def _release_database(self, *, keep: bool) -> None:
        """Stop the embedded PostgreSQL unless `keep` or another process still holds a lease."""
        if settings.DATABASE_URL:
            return
        pgdata = settings.EMBEDDED_PGDATA
        stopped = embedded_postgres.lease_release(pgdata, stop_if_unused=not keep)
        if not stopped and not keep and embedded_postgres.is_running(pgdata):
            if embedded_postgres.held_until_db_stop(pgdata):
                self.stdout.write("The embedded PostgreSQL keeps running (`db start`): `manage.py db stop` stops it.")
            else:
                holders = embedded_postgres.lease_holders(pgdata)
                self.stdout.write(f"The embedded PostgreSQL keeps running: still used by pid(s) {holders}.")

    def _run_start_hooks(self) -> None:
        """Run the commands in MODELYARD_SERVE_START_COMMANDS in the background, in order (by name:
        core imports no app above it), such as the registration of the model runtime as the `local`
        backend of the `default` pool. A failing one is reported, never fatal: the surfaces serve all the same."""

        def run() -> None:
            for name in settings.MODELYARD_SERVE_START_COMMANDS:
                try:
                    call_command(name, stdout=self.stdout, stderr=self.stderr)
                except Exception as error:  # noqa: BLE001  (reported; serving goes on)
                    self.stderr.write(f"start command {name!r} failed: {type(error).__name__}: {error}")
            connection.close()

        threading.Thread(target=run, name="serve-start-commands", daemon=True).start()

    @staticmethod
    def _group(name: str, command: list[str]) -> ProcessGroup:
        group = ProcessGroup(name, command, cwd=Path(settings.BASE_DIR))
        group.start()
        return group

    @staticmethod
    def _daphne_command(host: str, surfaces: list) -> list[str]:
        command = [sys.executable, "-m", "daphne"]
        for surface in surfaces:
            command += ["-e", daphne_endpoint(host, surface.port)]
        return [*command, "project.asgi:application"]

    @staticmethod
    def _refuse_unapplied_migrations() -> None:
        """Serving a database that lacks tables only gives tracebacks and failing workers: stop at
        once with the command that fixes it (`make run` migrates first)."""
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            raise CommandError(
                f"the database has {len(plan)} unapplied migration(s): "
                "run `.venv/bin/python manage.py migrate` first, then serve again"
            )

    def _print_banner(self, host: str, surfaces: list, *, with_workers: bool) -> None:
        shown_host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
        base = f"http://{shown_host}:"
        lines = [
            "",
            f"Modelyard {settings.MODELYARD_VERSION} is running (data in {settings.MODELYARD_HOME}).",
        ]
        for surface in surfaces:
            lines.append(f"  {surface.name:<9} {base}{surface.port}/")
        platform = next((s for s in surfaces if s.name == "platform"), None)
        if platform:
            lines += [
                f"  console   {base}{platform.port}/admin/",
                f"  API docs  {base}{platform.port}/api/docs/",
            ]
        workers = f"django-q2 cluster, {settings.MODELYARD_WORKERS} workers" if with_workers else "off"
        lines += [
            f"  workers   {workers}",
            "",
            "Create an admin user:  .venv/bin/python manage.py createsuperuser",
            "Create an API key:     .venv/bin/python manage.py apikey create --name NAME",
            "Press Ctrl-C to stop everything.",
            "",
        ]
        self.stdout.write("\n".join(lines))
