"""The paths of specs/forecast-api.txt, mounted at the forecast surface's root."""

from django.urls import path

from apps.forecasting.api import views

urlpatterns = [
    path("api/forecast", views.ForecastView.as_view(), name="forecast"),
    path("api/tags", views.TagsView.as_view(), name="forecast-tags"),
    path("api/pull", views.PullView.as_view(), name="forecast-pull"),
    path("api/show", views.ShowView.as_view(), name="forecast-show"),
    path("api/delete", views.DeleteView.as_view(), name="forecast-delete"),
    path("api/finetune", views.FinetuneView.as_view(), name="forecast-finetune"),
    path("api/finetune/status", views.FinetuneStatusView.as_view(), name="forecast-finetune-status"),
    path("api/evaluate", views.EvaluateView.as_view(), name="forecast-evaluate"),
]
