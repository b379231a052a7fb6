from django.urls import include, path, re_path

from apps.backends.api import views
from apps.core.routers import ApiRouter

router = ApiRouter()
router.register("backends", views.BackendViewSet, basename="backend")
router.register("pools", views.PoolViewSet, basename="pool")
router.register("models", views.ModelViewSet, basename="registered-model")

# Mounted at the platform's root: the paths of specs/runtime-api.md.
urlpatterns = [
    path("", include(router.urls)),
    path("state", views.StateView.as_view()),
    path("pool-by-name/<str:name>", views.PoolByNameView.as_view()),
    path("pool-by-purpose/<str:purpose>", views.PoolsByPurposeView.as_view()),
    path("internal/models", views.InternalModelsView.as_view()),
    path("backend-associations/<str:backend_id>/pools", views.PoolsOfBackendView.as_view()),
    path("backend-associations/<str:pool_id>/backends", views.BackendsOfPoolView.as_view()),
    path("backend-associations/<str:pool_id>/backends/<str:backend_id>", views.PoolBackendView.as_view()),
    path("model-associations/<str:model_id>/pools", views.PoolsOfModelView.as_view()),
    path("model-associations/<str:pool_id>/models", views.ModelsOfPoolView.as_view()),
    path("model-associations/<str:pool_id>/models/<str:model_id>", views.PoolModelView.as_view()),
    path("providers/configs", views.ProviderConfigsView.as_view()),
    path("providers/<str:provider_type>/config", views.ProviderConfigView.as_view()),
    path("providers/<str:provider_type>/configure", views.ProviderConfigureView.as_view()),
    path("queue", views.QueueView.as_view()),
    path("queue/inProgress", views.QueueInProgressView.as_view()),
    path("queue/cancel", views.QueueCancelView.as_view()),
    path("queue/<path:model>", views.QueueModelView.as_view()),
    path("defaultmodel", views.DefaultModelView.as_view()),
    path("execute", views.ExecuteView.as_view()),
    path("embed", views.EmbedView.as_view()),
    path("v1/chat/completions", views.ChatCompletionsView.as_view()),
    # One /v1/models for OpenAI's clients and the models cache (model ids contain '/' and ':');
    # the models cache's download, validate-download and quantizations routes come first, in modelstore.
    re_path(r"^v1/models/?$", views.ModelCatalogView.as_view(), name="models-catalog"),
    re_path(r"^v1/models/(?P<model_id>[^?#]+?)/?$", views.ModelCatalogDetailView.as_view(), name="models-catalog-one"),
    path("v1/embeddings", views.EmbeddingsView.as_view()),
]
