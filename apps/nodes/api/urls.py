"""Cluster routes on the platform port (mounted at the platform's root)."""

from django.urls import include, path

from apps.core.routers import ApiRouter
from apps.nodes.api import views

router = ApiRouter()
router.register("nodes", views.NodeViewSet, basename="node")

urlpatterns = [
    path("api/v1/", include(router.urls)),
    path("api/v1/placement", views.PlacementView.as_view(), name="placement"),
]
