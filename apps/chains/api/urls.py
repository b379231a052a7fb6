from django.urls import include, path

from apps.chains.api import views
from apps.core.routers import ApiRouter

router = ApiRouter()
router.register("hooks/remote", views.RemoteHookViewSet, basename="remote-hook")

# Mounted at the platform's root: the paths of specs/runtime-api.md.
urlpatterns = [
    path("tasks", views.TasksView.as_view()),
    path("supported", views.SupportedView.as_view()),
    path("hooks/remote/by-name/<str:name>", views.RemoteHookByNameView.as_view()),
    path("", include(router.urls)),
]
