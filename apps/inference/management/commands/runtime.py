"""`manage.py runtime`: the model runtime on the runtime surface's port (MODELYARD_RUNTIME_PORT), and
the forecast surface (MODELYARD_FORECAST_PORT), whose engines load here too.

The only process that loads models: `serve` starts it (and restarts it if it dies); on a GPU host it
can run alone. Model code gets the one thread policy before torch is imported, the hub is never
asked (every model comes from the store), and the models in MODELYARD_RUNTIME_KEEP_LOADED are
loaded in the background as soon as it starts.
"""

import logging
import os
import socket
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.auth import api_keys_configured, is_loopback
from apps.core.management.commands.serve import daphne_endpoint
from apps.core.processes import die_with_parent_if_asked
from apps.core.threads import apply_model_thread_policy
from apps.inference import services
from project.surfaces import RUNTIME, Surface, model_process_surfaces

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Serve the model runtime (chat, embeddings, rerank, classify) and the forecast API on their ports."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.MODELYARD_BIND, help="Address to bind (env MODELYARD_BIND).")

    def handle(self, *args: object, **options: object) -> None:
        apply_model_thread_policy()
        # Model loading never asks the hub. A forecast pull served here leaves the hub to the
        # download job on a worker (apps.forecasting.services.model_pull, plan_on_worker).
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        die_with_parent_if_asked()
        host = str(options["host"])
        surfaces = [surface for surface in model_process_surfaces() if self._bindable(host, surface)]
        if not surfaces:
            raise CommandError(
                "the runtime and forecast surfaces are disabled (MODELYARD_RUNTIME_PORT=0, MODELYARD_FORECAST_PORT=0)"
            )
        if not is_loopback(host) and not api_keys_configured():
            raise CommandError(
                f"refusing to bind {host}: with no API key configured the runtime is open to anyone who can "
                "reach it. Set MODELYARD_API_KEY or bind 127.0.0.1."
            )
        if RUNTIME.enabled:
            threading.Thread(target=self._preload, name="runtime-preload", daemon=True).start()
        from daphne.cli import CommandLineInterface

        # One daphne for every surface of this process (runtime, forecast): the middleware routes by port.
        endpoints = [argument for surface in surfaces for argument in ("-e", daphne_endpoint(host, surface.port))]
        CommandLineInterface().run([*endpoints, "project.asgi:application"])

    @staticmethod
    def _bindable(host: str, surface: Surface) -> bool:
        """Can `surface`'s port be bound? The runtime surface must be (daphne then says why not); the
        forecast surface's port taken by another process (a second runtime on this host, started
        alone) is logged and left out, so the runtime still serves its own port."""
        if surface is RUNTIME:
            return True
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, surface.port))
            except OSError as error:
                logger.error("the %s surface is not served here: port %s: %s", surface.name, surface.port, error)
                return False
        return True

    @staticmethod
    def _preload() -> None:
        for model in settings.MODELYARD_RUNTIME_KEEP_LOADED:
            try:
                services.model_preload(model=model)
            except Exception:  # one model that cannot load must not stop the others
                logger.exception("could not preload %s", model)
