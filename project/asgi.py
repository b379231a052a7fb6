"""ASGI entry point for daphne: every surface is served by this one application."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from project import load_settings_or_exit  # noqa: E402

load_settings_or_exit()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

application = ProtocolTypeRouter({"http": get_asgi_application()})
