"""Routes of the runtime surface (mounted by project/urls_runtime.py)."""

from django.urls import path

from apps.inference.api import views

urlpatterns = [
    path("health", views.HealthView.as_view(), name="runtime-health"),
    path("v1/models", views.ModelsView.as_view(), name="runtime-models"),
    path("v1/models/unload", views.UnloadView.as_view(), name="runtime-unload"),
    path("v1/chat/completions", views.ChatCompletionsView.as_view(), name="runtime-chat"),
    path("v1/embeddings", views.EmbeddingsView.as_view(), name="runtime-embeddings"),
    path("v1/rerank", views.RerankView.as_view(), name="runtime-rerank"),
    path("v1/classify", views.ClassifyView.as_view(), name="runtime-classify"),
]
