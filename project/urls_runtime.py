"""The runtime surface (port 11540): the model runtime's OpenAI-compatible API, served by
`manage.py runtime` (the only process that loads models)."""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.inference.api.urls")),
]

handler400 = "apps.core.error_handlers.handler400"
handler404 = "apps.core.error_handlers.handler404"
handler500 = "apps.core.error_handlers.handler500"
