"""`manage.py serve`: daphne on every enabled surface's port, plus the django-q2 workers.

Ctrl-C (or SIGTERM) stops the server, the workers and the embedded PostgreSQL, in that order.
"""

import contextlib
import ipaddress
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.core import embedded_postgres
from apps.core.auth import api_keys_configured
from project.surfaces import enabled_surfaces

STOP_GRACE_S = 10


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        if not is_loopback(host) and not api_keys_configured():
            raise CommandError(
                f"refusing to bind {host}: with no API key configured the API is open to anyone who can "
                "reach it. Set MODELYARD_API_KEY or run `manage.py apikey create --name NAME`, "
                "or bind 127.0.0.1."
            )
        self._warn_unapplied_migrations()

        stopping = False

        def request_stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

        children = {"web": self._start_daphne(host, surfaces)}
        if not options["no_workers"]:
            children["workers"] = self._start([sys.executable, "manage.py", "qcluster"])
        self._print_banner(host, surfaces, with_workers=not options["no_workers"])

        exit_code = 0
        try:
            while not stopping:
                for name, process in children.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with code {process.returncode}; stopping everything")
                        exit_code, stopping = 1, True
                time.sleep(0.3)
        finally:
            self.stdout.write("Stopping…")
            for process in children.values():
                self._stop(process)
            connection.close()
            if not settings.DATABASE_URL and not options["keep_db"]:
                embedded_postgres.stop(settings.EMBEDDED_PGDATA)
            self.stdout.write("Stopped.")
        if exit_code:
            raise SystemExit(exit_code)

    def _start_daphne(self, host: str, surfaces: list) -> subprocess.Popen:
        command = [sys.executable, "-m", "daphne"]
        for surface in surfaces:
            command += ["-e", daphne_endpoint(host, surface.port)]
        return self._start([*command, "project.asgi:application"])

    @staticmethod
    def _start(command: list[str]) -> subprocess.Popen:
        # Own session: a stop signal reaches the whole tree (qcluster's worker processes too).
        return subprocess.Popen(command, cwd=Path(settings.BASE_DIR), start_new_session=True)

    @staticmethod
    def _stop(process: subprocess.Popen) -> None:
        if process.poll() is not None:
            return
        group = os.getpgid(process.pid)
        process.terminate()  # the leader stops its own children (qcluster its workers)
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # Anything of the tree that outlived its leader.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)

    def _warn_unapplied_migrations(self) -> None:
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            self.stderr.write(self.style.WARNING("Unapplied migrations: run `manage.py migrate` first."))

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
