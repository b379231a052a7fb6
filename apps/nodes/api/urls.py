"""Cluster routes on the platform port (mounted at the platform's root)."""

from django.urls import include, path, re_path

from apps.core.routers import ApiRouter
from apps.nodes.api import views

router = ApiRouter()
router.register("nodes", views.NodeViewSet, basename="node")

urlpatterns = [
    # A node's listings answer the node spec's errors: views of their own, beside the registry's viewset.
    re_path(r"^api/v1/nodes/(?P<name>[^/]+)/models/?$", views.NodeModelsView.as_view(), name="node-models"),
    re_path(r"^api/v1/nodes/(?P<name>[^/]+)/models/top/?$", views.NodeTopModelsView.as_view(), name="node-models-top"),
    path("api/v1/", include(router.urls)),
    path("api/v1/placement", views.PlacementView.as_view(), name="placement"),
]
