"""The runtime spec's HTTP API (`{"error": …}` bodies) and the OpenAI-compatible gateway."""

from collections.abc import Callable

from adrf.views import APIView as AsyncAPIView
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.backends import downloads, gateway, selectors, services
from apps.backends.api import openai_api
from apps.backends.api import serializers as s
from apps.backends.models import Backend, Pool, ProviderConfig, RegisteredModel
from apps.backends.providers import PROVIDER_TYPES
from apps.core.schema import ERROR_RESPONSE as ERROR
from apps.core.schema import DetailErrorSerializer, ModelyardAutoSchema, RuntimeApi
from apps.core.sse import MEDIA_TYPE, EventStreamRenderer, sse_data_response, sse_response
from apps.core.validation import validated
from apps.modelstore import services as modelstore

TEXT = OpenApiTypes.STR
MODEL_ID_PARAMETER = OpenApiParameter("model_id", TEXT, OpenApiParameter.PATH, description="May contain '/'")


def _changed_by_id(serializer_class: type, request: HttpRequest) -> dict:
    fields = validated(serializer_class, request.data)
    fields.pop("id", None)  # the ID in the path wins over the body
    return fields


# --- backends ------------------------------------------------------------------------------------


class BackendViewSet(RuntimeApi, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"

    @extend_schema(
        operation_id="listBackends", responses={200: s.BackendDetailsSerializer(many=True), "default": ERROR}
    )
    def list(self, request: HttpRequest) -> Response:
        return Response(s.BackendDetailsSerializer(Backend.objects.all(), many=True).data)

    @extend_schema(
        operation_id="createBackend",
        request=s.BackendSerializer,
        responses={201: s.BackendSerializer, "default": ERROR},
    )
    def create(self, request: HttpRequest) -> Response:
        backend = services.backend_create(**validated(s.BackendSerializer, request.data))
        return Response(s.BackendSerializer(backend).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="getBackend", responses={200: s.BackendDetailsSerializer, "default": ERROR})
    def retrieve(self, request: HttpRequest, pk: str) -> Response:
        return Response(s.BackendDetailsSerializer(services.backend_get(backend_id=pk)).data)

    @extend_schema(
        operation_id="updateBackend",
        request=s.BackendSerializer,
        responses={200: s.BackendSerializer, "default": ERROR},
    )
    def update(self, request: HttpRequest, pk: str) -> Response:
        backend = services.backend_update(backend_id=pk, **_changed_by_id(s.BackendSerializer, request))
        return Response(s.BackendSerializer(backend).data)

    @extend_schema(operation_id="deleteBackend", responses={200: TEXT, "default": ERROR})
    def destroy(self, request: HttpRequest, pk: str) -> Response:
        services.backend_delete(backend_id=pk)
        return Response("backend removed")


class StateView(RuntimeApi, APIView):
    @extend_schema(
        operation_id="list",
        summary="Runtime state of every backend",
        responses={200: s.BackendStateSerializer(many=True), "default": ERROR},
    )
    def get(self, request: HttpRequest) -> Response:
        return Response(s.BackendStateSerializer(Backend.objects.all(), many=True).data)


# --- pools ---------------------------------------------------------------------------------------


class PoolViewSet(RuntimeApi, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"

    @extend_schema(operation_id="listPools", responses={200: s.PoolSerializer(many=True), "default": ERROR})
    def list(self, request: HttpRequest) -> Response:
        return Response(s.PoolSerializer(Pool.objects.all(), many=True).data)

    @extend_schema(
        operation_id="createPool", request=s.PoolSerializer, responses={201: s.PoolSerializer, "default": ERROR}
    )
    def create(self, request: HttpRequest) -> Response:
        pool = services.pool_create(**validated(s.PoolSerializer, request.data))
        return Response(s.PoolSerializer(pool).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="getPool", responses={200: s.PoolSerializer, "default": ERROR})
    def retrieve(self, request: HttpRequest, pk: str) -> Response:
        return Response(s.PoolSerializer(services.pool_get(pool_id=pk)).data)

    @extend_schema(
        operation_id="updatePool", request=s.PoolSerializer, responses={200: s.PoolSerializer, "default": ERROR}
    )
    def update(self, request: HttpRequest, pk: str) -> Response:
        pool = services.pool_update(pool_id=pk, **_changed_by_id(s.PoolSerializer, request))
        return Response(s.PoolSerializer(pool).data)

    @extend_schema(operation_id="deletePool", responses={200: TEXT, "default": ERROR})
    def destroy(self, request: HttpRequest, pk: str) -> Response:
        services.pool_delete(pool_id=pk)
        return Response("deleted")


class PoolByNameView(RuntimeApi, APIView):
    @extend_schema(operation_id="getPoolByName", responses={200: s.PoolSerializer, "default": ERROR})
    def get(self, request: HttpRequest, name: str) -> Response:
        return Response(s.PoolSerializer(services.pool_get_by_name(name=name)).data)


class PoolsByPurposeView(RuntimeApi, APIView):
    @extend_schema(
        operation_id="listPoolsByPurpose",
        parameters=[s.PoolPageSerializer],
        responses={200: s.PoolSerializer(many=True), "default": ERROR},
    )
    def get(self, request: HttpRequest, purpose: str) -> Response:
        page = s.PoolPageSerializer(data=request.query_params)
        page.is_valid(raise_exception=True)
        pools = selectors.pools_by_purpose(purpose=purpose, **page.validated_data)
        return Response(s.PoolSerializer(pools, many=True).data)


# --- models --------------------------------------------------------------------------------------


class OneObjectListSchema(ModelyardAutoSchema):
    """The schema of a viewset whose `list` answers one object (`{"object": "list", "data": […]}`),
    not a bare array: drf-spectacular wraps every `list` action's serializer in an array otherwise."""

    def _is_list_view(self, serializer: object = None) -> bool:
        if getattr(self.view, "action", None) == "list":
            return False
        return super()._is_list_view(serializer)


class ModelViewSet(RuntimeApi, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"
    schema = OneObjectListSchema()

    @extend_schema(operation_id="listModels", responses={200: s.OpenAIModelListSerializer, "default": ERROR})
    def list(self, request: HttpRequest) -> Response:
        return Response(s.OpenAIModelListSerializer(selectors.models_openai_list()).data)

    @extend_schema(
        operation_id="createModel",
        request=s.RegisteredModelSerializer,
        responses={201: s.RegisteredModelSerializer, "default": ERROR},
    )
    def create(self, request: HttpRequest) -> Response:
        registered = services.model_create(**validated(s.RegisteredModelSerializer, request.data))
        return Response(s.RegisteredModelSerializer(registered).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="updateModel",
        request=s.ModelUpdateSerializer,
        responses={200: s.RegisteredModelSerializer, "default": ERROR},
    )
    def update(self, request: HttpRequest, pk: str) -> Response:
        registered = services.model_update(model_id=pk, **_changed_by_id(s.ModelUpdateSerializer, request))
        return Response(s.RegisteredModelSerializer(registered).data)

    @extend_schema(
        operation_id="deleteModel", parameters=[s.DeleteModelQuerySerializer], responses={200: TEXT, "default": ERROR}
    )
    def destroy(self, request: HttpRequest, pk: str) -> Response:
        query = s.DeleteModelQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        services.model_delete(model_id=pk, purge=query.validated_data["purge"])
        return Response("model removed")


# The platform's own routes (not the runtime spec's) answer errors as `{"detail": …}`.
DETAIL_ERROR = OpenApiResponse(DetailErrorSerializer, description='`{"detail": …}`')
OPENAI_ERROR = OpenApiResponse(openai_api.OpenAIErrorSerializer, description="OpenAI's error object")
MODEL_NOT_FOUND = OpenApiResponse(
    openai_api.OpenAIErrorSerializer, description="No backend in scope has the model (`code`: `model_not_found`)"
)


class ModelCatalogView(APIView):
    # The platform's GET /v1/models: OpenAI's model list and the projects spec's models cache in one
    # answer (errors are the platform's `{"detail": …}`, as the models cache API writes them).
    @extend_schema(
        operation_id="models_cache_list",
        parameters=[s.ModelCatalogQuerySerializer],
        responses={200: s.ModelCatalogSerializer, 400: DETAIL_ERROR},
    )
    def get(self, request: HttpRequest) -> Response:
        provider = validated(s.ModelCatalogQuerySerializer, request.query_params).get("provider")
        catalog = {"object": "list", "data": selectors.models_catalog(provider=provider)}
        return Response(s.ModelCatalogSerializer(catalog).data)


class ModelCatalogDetailView(APIView):
    # GET is OpenAI's retrieve; DELETE is the models cache API's delete of a stored model.

    @property
    def error_serializer(self) -> type:
        return openai_api.OpenAIErrorSerializer if self.request.method == "GET" else DetailErrorSerializer

    def format_error(self, message: str, status_code: int) -> dict:
        # OpenAI's clients read OpenAI's error object; the models cache API writes `{"detail": …}`.
        if self.request.method == "GET":
            return openai_api.error_body(message, status_code)
        return {"detail": message}

    def get_exception_handler(self) -> Callable[[Exception, dict], Response]:
        if self.request.method == "GET":
            return openai_api.openai_exception_handler
        return super().get_exception_handler()

    @extend_schema(
        operation_id="retrieveModel",
        parameters=[MODEL_ID_PARAMETER],
        responses={200: s.ModelCatalogEntrySerializer, 404: OPENAI_ERROR},
    )
    def get(self, request: HttpRequest, model_id: str) -> Response:
        return Response(s.ModelCatalogEntrySerializer(selectors.model_catalog_entry(model_id=model_id)).data)

    @extend_schema(
        operation_id="models_cache_delete",
        parameters=[
            MODEL_ID_PARAMETER,
            s.CacheProviderQuerySerializer,
        ],
        responses={200: s.CacheDeletedSerializer, 400: DETAIL_ERROR, 404: DETAIL_ERROR},
    )
    def delete(self, request: HttpRequest, model_id: str) -> Response:
        provider = validated(s.CacheProviderQuerySerializer, request.query_params)["provider"]
        return Response(s.CacheDeletedSerializer(modelstore.cache_delete(model_name=model_id, provider=provider)).data)


class InternalModelsView(RuntimeApi, APIView):
    @extend_schema(
        operation_id="listInternal",
        responses={200: s.RegisteredModelSerializer(many=True), "default": ERROR},
    )
    def get(self, request: HttpRequest) -> Response:
        return Response(s.RegisteredModelSerializer(RegisteredModel.objects.all(), many=True).data)


# --- associations --------------------------------------------------------------------------------


class PoolsOfBackendView(RuntimeApi, APIView):
    @extend_schema(
        operation_id="listPoolsForBackend",
        responses={200: s.PoolSerializer(many=True), "default": ERROR},
    )
    def get(self, request: HttpRequest, backend_id: str) -> Response:
        return Response(s.PoolSerializer(services.backend_get(backend_id=backend_id).pools.all(), many=True).data)


class BackendsOfPoolView(RuntimeApi, APIView):
    @extend_schema(
        operation_id="listBackendsByPool",
        responses={200: s.BackendSerializer(many=True), "default": ERROR},
    )
    def get(self, request: HttpRequest, pool_id: str) -> Response:
        return Response(s.BackendSerializer(services.pool_get(pool_id=pool_id).backends.all(), many=True).data)


class PoolBackendView(RuntimeApi, APIView):
    @extend_schema(operation_id="assignBackend", request=None, responses={201: TEXT, "default": ERROR})
    def post(self, request: HttpRequest, pool_id: str, backend_id: str) -> Response:
        services.pool_backend_assign(pool_id=pool_id, backend_id=backend_id)
        return Response("backend assigned", status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="removeBackend", responses={200: TEXT, "default": ERROR})
    def delete(self, request: HttpRequest, pool_id: str, backend_id: str) -> Response:
        services.pool_backend_remove(pool_id=pool_id, backend_id=backend_id)
        return Response("backend removed")


class PoolsOfModelView(RuntimeApi, APIView):
    @extend_schema(
        operation_id="listPoolsForModel",
        responses={200: s.PoolSerializer(many=True), "default": ERROR},
    )
    def get(self, request: HttpRequest, model_id: str) -> Response:
        return Response(s.PoolSerializer(services.model_get(model_id=model_id).pools.all(), many=True).data)


class ModelsOfPoolView(RuntimeApi, APIView):
    @extend_schema(
        operation_id="listModelsByPool",
        responses={200: s.RegisteredModelSerializer(many=True), "default": ERROR},
    )
    def get(self, request: HttpRequest, pool_id: str) -> Response:
        models = services.pool_get(pool_id=pool_id).models.all()
        return Response(s.RegisteredModelSerializer(models, many=True).data)


class PoolModelView(RuntimeApi, APIView):
    @extend_schema(operation_id="assignModel", request=None, responses={200: TEXT, "default": ERROR})
    def post(self, request: HttpRequest, pool_id: str, model_id: str) -> Response:
        services.pool_model_assign(pool_id=pool_id, model_id=model_id)
        return Response("model assigned")

    @extend_schema(operation_id="removeModel", responses={200: TEXT, "default": ERROR})
    def delete(self, request: HttpRequest, pool_id: str, model_id: str) -> Response:
        services.pool_model_remove(pool_id=pool_id, model_id=model_id)
        return Response("model removed")


# --- provider configs ----------------------------------------------------------------------------


class ProviderConfigsView(RuntimeApi, APIView):
    @extend_schema(
        operation_id="listConfigs",
        responses={200: s.ProviderConfigSerializer(many=True), "default": ERROR},
    )
    def get(self, request: HttpRequest) -> Response:
        configs = [services.provider_config_masked(config) for config in ProviderConfig.objects.all()]
        return Response(s.ProviderConfigSerializer(configs, many=True).data)


PROVIDER_TYPE = OpenApiParameter("provider_type", OpenApiTypes.STR, OpenApiParameter.PATH, enum=PROVIDER_TYPES)


class ProviderConfigView(RuntimeApi, APIView):
    @extend_schema(
        operation_id="get",
        summary="A provider's configuration (API key masked)",
        parameters=[PROVIDER_TYPE],
        responses={200: s.ProviderConfigSerializer, "default": ERROR},
    )
    def get(self, request: HttpRequest, provider_type: str) -> Response:
        config = services.provider_config_get(type=provider_type)
        return Response(s.ProviderConfigSerializer(services.provider_config_masked(config)).data)

    @extend_schema(operation_id="deleteConfig", parameters=[PROVIDER_TYPE], responses={200: TEXT, "default": ERROR})
    def delete(self, request: HttpRequest, provider_type: str) -> Response:
        services.provider_config_delete(type=provider_type)
        return Response("deleted")


class ProviderConfigureView(RuntimeApi, APIView):
    @extend_schema(
        operation_id="configureProvider",
        parameters=[PROVIDER_TYPE],
        request=s.ProviderConfigureSerializer,
        responses={200: s.ProviderConfigSerializer, "default": ERROR},
    )
    def post(self, request: HttpRequest, provider_type: str) -> Response:
        config = services.provider_config_set(
            type=provider_type, **validated(s.ProviderConfigureSerializer, request.data)
        )
        return Response(s.ProviderConfigSerializer(services.provider_config_masked(config)).data)


# --- download queue ------------------------------------------------------------------------------


class QueueView(RuntimeApi, APIView):
    @extend_schema(operation_id="getQueue", responses={200: s.QueueItemSerializer(many=True), "default": ERROR})
    def get(self, request: HttpRequest) -> Response:
        return Response(s.QueueItemSerializer(downloads.queue_items(), many=True).data)


class QueueInProgressView(RuntimeApi, APIView):
    renderer_classes = [JSONRenderer, EventStreamRenderer]

    @extend_schema(
        operation_id="inProgress",
        description="`event: status` lines with Ollama's pull status of every running download.",
        responses={(200, MEDIA_TYPE): TEXT, "default": ERROR},
    )
    def get(self, request: HttpRequest) -> HttpResponseBase:
        return sse_response(selectors.pull_status_stream())


class QueueCancelView(RuntimeApi, APIView):
    @extend_schema(
        operation_id="cancelDownload",
        parameters=[s.QueueCancelSerializer],
        responses={200: TEXT, "default": ERROR},
    )
    def delete(self, request: HttpRequest) -> Response:
        query = validated(s.QueueCancelSerializer, request.query_params)
        return Response(services.queue_cancel(model=query.get("model"), base_url=query.get("url")))


class QueueModelView(RuntimeApi, APIView):
    @extend_schema(operation_id="removeFromQueue", responses={200: TEXT, "default": ERROR})
    def delete(self, request: HttpRequest, model: str) -> Response:
        return Response(services.queue_remove(model=model))


# --- execution -----------------------------------------------------------------------------------


class DefaultModelView(RuntimeApi, APIView):
    @extend_schema(operation_id="defaultModel", responses={200: s.DefaultModelSerializer, "default": ERROR})
    def get(self, request: HttpRequest) -> Response:
        return Response(s.DefaultModelSerializer({"modelName": selectors.default_model_name()}).data)


class ExecuteView(RuntimeApi, AsyncAPIView):
    @extend_schema(
        operation_id="executeSimpleTask",
        request=s.ExecuteRequestSerializer,
        responses={200: s.ExecuteResponseSerializer, "default": ERROR},
    )
    async def post(self, request: HttpRequest) -> Response:
        body = s.ExecuteRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        model = body.validated_data.get("model_name") or await selectors.default_model_name_async()
        result = await gateway.execute_prompt(
            prompt=body.validated_data["prompt"],
            model=model,
            backend_type=body.validated_data.get("model_provider", ""),
        )
        return Response(s.ExecuteResponseSerializer(result).data)


class EmbedView(RuntimeApi, AsyncAPIView):
    @extend_schema(
        operation_id="generateEmbeddings",
        request=s.EmbedRequestSerializer,
        responses={200: s.EmbedResponseSerializer, "default": ERROR},
    )
    async def post(self, request: HttpRequest) -> Response:
        body = s.EmbedRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        model = await selectors.embed_model_name_async()
        vector = await gateway.embed_text(text=body.validated_data["text"], model=model)
        return Response(s.EmbedResponseSerializer({"vector": vector}).data)


# --- OpenAI-compatible gateway -------------------------------------------------------------------


class OpenAIApi:
    """Errors as OpenAI writes them, so its clients raise the right exception; invalid input is
    OpenAI's 400 (see `openai_api.openai_exception_handler`)."""

    error_serializer = openai_api.OpenAIErrorSerializer

    def format_error(self, message: str, status_code: int) -> dict:
        return openai_api.error_body(message, status_code)

    def get_exception_handler(self) -> Callable[[Exception, dict], Response]:
        return openai_api.openai_exception_handler


class ChatCompletionsView(OpenAIApi, AsyncAPIView):
    renderer_classes = [JSONRenderer, EventStreamRenderer]

    @extend_schema(
        operation_id="createChatCompletion",
        request=openai_api.ChatCompletionRequestSerializer,
        responses={
            200: openai_api.ChatCompletionResponseSerializer,
            (200, MEDIA_TYPE): TEXT,
            404: MODEL_NOT_FOUND,
        },
    )
    async def post(self, request: HttpRequest) -> HttpResponseBase:
        data = validated(openai_api.ChatCompletionRequestSerializer, request.data)
        messages = [dict(message) for message in data["messages"]]
        options = gateway.chat_options(data)
        if not data["stream"]:
            return Response(await gateway.chat_completion(model=data["model"], messages=messages, options=options))
        include_usage = (data.get("stream_options") or {}).get("include_usage", False)
        chunks = await gateway.chat_completion_stream(
            model=data["model"], messages=messages, options=options, include_usage=include_usage
        )
        return sse_data_response(chunks, error_data=gateway.stream_error_chunk, end_with_done=True)


class EmbeddingsView(OpenAIApi, AsyncAPIView):
    @extend_schema(
        operation_id="createEmbedding",
        request=openai_api.EmbeddingsRequestSerializer,
        responses={200: openai_api.EmbeddingsResponseSerializer, 404: MODEL_NOT_FOUND},
    )
    async def post(self, request: HttpRequest) -> Response:
        data = validated(openai_api.EmbeddingsRequestSerializer, request.data)
        return Response(
            await gateway.embeddings(
                model=data["model"],
                inputs=data["input"],
                encoding_format=data["encoding_format"],
                dimensions=data.get("dimensions"),
            )
        )
