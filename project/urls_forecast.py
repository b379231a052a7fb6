"""The forecast surface (port 11435): exactly `specs/forecast-api.txt`."""

from django.urls import include, path

from apps.core.api.views import ForecastHealthView

urlpatterns = [
    path("health", ForecastHealthView.as_view(), name="forecast-health"),
    path("", include("apps.forecasting.api.urls")),
]

handler400 = "apps.core.error_handlers.handler400"
handler404 = "apps.core.error_handlers.handler404"
handler500 = "apps.core.error_handlers.handler500"
