"""The platform surface (port 8000): admin, API docs, and every spec route that does not collide."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/schema/node/", SpectacularAPIView.as_view(urlconf="project.urls_node"), name="schema-node"),
    path("api/schema/forecast/", SpectacularAPIView.as_view(urlconf="project.urls_forecast"), name="schema-forecast"),
    path("api/schema/runtime/", SpectacularAPIView.as_view(urlconf="project.urls_runtime"), name="schema-runtime"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", template_name_js="api_docs/swagger_ui.js"),
        name="api-docs",
    ),
    path("", include("apps.core.api.urls")),
    path("", include("apps.modelstore.api.urls")),
    path("", include("apps.nodes.api.urls")),
    path("", include("apps.backends.api.urls")),
    path("", include("apps.chains.api.urls")),
    path("", include("apps.projects.api.urls")),
    path("", include("apps.ml.api.urls")),
    path("", include("apps.vision.api.urls")),
]

handler400 = "apps.core.error_handlers.handler400"
handler404 = "apps.core.error_handlers.handler404"
handler500 = "apps.core.error_handlers.handler500"
