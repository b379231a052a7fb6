"""The node surface (port 8787): exactly `specs/node-fit-api.txt`."""

from django.urls import include, path

from apps.core.api.views import NodeHealthView

urlpatterns = [
    path("health", NodeHealthView.as_view(), name="node-health"),
    path("", include("apps.nodes.api.node_urls")),
]

handler400 = "apps.core.error_handlers.handler400"
handler404 = "apps.core.error_handlers.handler404"
handler500 = "apps.core.error_handlers.handler500"
