"""`manage.py runtime`: the model runtime on the runtime surface's port (MODELYARD_RUNTIME_PORT).

The only process that loads models: `serve` starts it (and restarts it if it dies); on a GPU host it
can run alone. Model code gets the one thread policy before torch is imported, the hub is never
asked (every model comes from the store), and the models in MODELYARD_RUNTIME_KEEP_LOADED are
loaded in the background as soon as it starts.
"""

import logging
import os
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.auth import api_keys_configured, is_loopback
from apps.core.management.commands.serve import daphne_endpoint
from apps.core.processes import die_with_parent_if_asked
from apps.core.threads import apply_model_thread_policy
from apps.inference import services
from project.surfaces import RUNTIME

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Serve the model runtime (OpenAI-compatible chat, embeddings, rerank, classify) on the runtime port."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.MODELYARD_BIND, help="Address to bind (env MODELYARD_BIND).")

    def handle(self, *args: object, **options: object) -> None:
        apply_model_thread_policy()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        die_with_parent_if_asked()
        host = str(options["host"])
        if not RUNTIME.enabled:
            raise CommandError("the runtime surface is disabled (MODELYARD_RUNTIME_PORT=0)")
        if not is_loopback(host) and not api_keys_configured():
            raise CommandError(
                f"refusing to bind {host}: with no API key configured the runtime is open to anyone who can "
                "reach it. Set MODELYARD_API_KEY or bind 127.0.0.1."
            )
        threading.Thread(target=self._preload, name="runtime-preload", daemon=True).start()
        from daphne.cli import CommandLineInterface

        CommandLineInterface().run(["-e", daphne_endpoint(host, RUNTIME.port), "project.asgi:application"])

    @staticmethod
    def _preload() -> None:
        for model in settings.MODELYARD_RUNTIME_KEEP_LOADED:
            try:
                services.model_preload(model=model)
            except Exception:  # one model that cannot load must not stop the others
                logger.exception("could not preload %s", model)
