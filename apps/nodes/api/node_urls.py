"""The node surface (port 8787), mounted at its root: specs/node-fit-api.txt. `/health` is core's."""

from django.urls import path, re_path

from apps.nodes.api import views

# The spec's paths, exactly (no trailing slash); a model name may contain "/" (org/repo).
urlpatterns = [
    path("api/v1/system", views.SystemView.as_view(), name="node-system"),
    path("api/v1/models", views.ModelsView.as_view(), name="node-models"),
    path("api/v1/models/top", views.TopModelsView.as_view(), name="node-models-top"),
    re_path(r"^api/v1/models/(?P<name>.+)$", views.ModelSearchView.as_view(), name="node-models-search"),
]
