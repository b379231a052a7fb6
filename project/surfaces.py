"""Surfaces: one server, several ports, each with its own URLconf and error shape.

`manage.py serve` binds daphne to every enabled surface's port; `SurfaceMiddleware` picks the
URLconf from the port a request arrived on.
"""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Surface:
    name: str
    urlconf: str
    port_setting: str
    error_key: str  # "detail" or "error": the key of the spec's error body
    own_process: bool = False  # served by a process of its own, not by `serve`'s daphne

    @property
    def port(self) -> int:
        return getattr(settings, self.port_setting)

    @property
    def enabled(self) -> bool:
        return self.port != 0


PLATFORM = Surface("platform", "project.urls", "MODELYARD_PLATFORM_PORT", "detail")
NODE = Surface("node", "project.urls_node", "MODELYARD_NODE_PORT", "error")
# Served by the model runtime's process (`manage.py runtime`, supervised by `serve`), never by the web
# server's daphne: models load only there (the forecast engines stay resident beside the runtime's).
FORECAST = Surface("forecast", "project.urls_forecast", "MODELYARD_FORECAST_PORT", "error", own_process=True)
RUNTIME = Surface("runtime", "project.urls_runtime", "MODELYARD_RUNTIME_PORT", "error", own_process=True)

SURFACES = (PLATFORM, NODE, FORECAST, RUNTIME)


def enabled_surfaces() -> list[Surface]:
    return [surface for surface in SURFACES if surface.enabled]


def model_process_surfaces() -> list[Surface]:
    """The enabled surfaces the model runtime's process serves (`own_process`), in order."""
    return [surface for surface in enabled_surfaces() if surface.own_process]


def surface_of_urlconf(urlconf: str | None) -> Surface:
    """The surface served by `urlconf`; the platform for None (the project's root URLconf)."""
    return next((surface for surface in SURFACES if surface.urlconf == urlconf), PLATFORM)


def surface_for_port(port: int | str | None) -> Surface:
    """The surface listening on `port`; the platform for any other port (tests, proxies)."""
    for surface in SURFACES:
        if surface.enabled and str(surface.port) == str(port):
            return surface
    return PLATFORM
