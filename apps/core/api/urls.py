from django.urls import include, path

from apps.core.api import views
from apps.core.routers import ApiRouter

router = ApiRouter()
router.register("jobs", views.JobViewSet, basename="job")

# Mounted at the platform's root.
urlpatterns = [
    path("", views.RootView.as_view(), name="root"),
    path("health", views.PlatformHealthView.as_view(), name="health"),
    path("health/liveness", views.LivenessView.as_view(), name="health-liveness"),
    path("info", views.InfoView.as_view(), name="info"),
    path("v1/system/disk", views.DiskView.as_view(), name="system-disk"),
    path("api/v1/", include(router.urls)),
]
