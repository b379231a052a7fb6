from django.db.models import QuerySet
from django.http import HttpRequest
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from apps.core.schema import DetailErrorSerializer, ErrorSerializer
from apps.nodes import services
from apps.nodes.api import serializers
from apps.nodes.api.renderers import FastJSONRenderer
from apps.nodes.api.serializers import parsed_query
from apps.nodes.models import Node

BAD_REQUEST = OpenApiResponse(
    ErrorSerializer,
    description='An invalid parameter, e.g. {"error": "invalid min_fit value: use perfect|good|marginal|too_tight"}',
)


# --- the node surface (port 8787): specs/node-fit-api.txt -----------------------------------------


class SystemView(APIView):
    @extend_schema(
        operation_id="node_system",
        description="This node's identity and detected hardware; available RAM is read live. With ram_gb, "
        "vram_gb, cpu_cores or gpu: the planned machine instead.",
        parameters=[serializers.WhatIfQuerySerializer],
        responses={200: serializers.NodeSystemResponseSerializer, 400: BAD_REQUEST},
    )
    def get(self, request: HttpRequest) -> Response:
        return Response(services.local_system(what_if=serializers.parsed_what_if(request.query_params)))


def listing_schema(operation_id: str, description: str, *parameters: OpenApiParameter):  # noqa: ANN201
    """The documentation of one of the spec's three listings (same query and response, other defaults)."""
    return extend_schema_view(
        get=extend_schema(
            operation_id=operation_id,
            description=description,
            parameters=[serializers.FitQueryWithWhatIfSerializer, *parameters],
            responses={200: serializers.FitListingSerializer, 400: BAD_REQUEST},
        )
    )


@listing_schema("node_models", "Every catalog model scored for this node; too-tight ones are included, last.")
class ModelsView(APIView):
    """The spec's listings; `endpoint` picks their defaults (see `listing.model_query`)."""

    endpoint = "models"
    renderer_classes = [FastJSONRenderer, *(r for r in api_settings.DEFAULT_RENDERER_CLASSES if r is not JSONRenderer)]

    def get(self, request: HttpRequest, name: str | None = None) -> Response:
        search = None if name is None else name.rstrip("/")
        query = parsed_query(request.query_params, endpoint=self.endpoint, search=search)
        return Response(services.local_models(query=query))


@listing_schema(
    "node_models_top", "The best runnable models for scheduling: limit defaults to 5, include_too_tight to false."
)
class TopModelsView(ModelsView):
    endpoint = "top"


@listing_schema(
    "node_models_search",
    "Models whose name, provider or size contains {name} (any case); limit defaults to 20.",
    OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, description="Substring, any case."),
)
class ModelSearchView(ModelsView):
    endpoint = "name"


# --- the cluster (platform port) ------------------------------------------------------------------

# The node-fit routes of the cluster (a node's listings, placement) answer errors in the node spec's style,
# `{"error": "..."}` with 400 for any invalid input (never FastAPI-style 422 lists), as the node surface
# does for the same parameters; core's handler renders them by this key. The registry keeps the platform's.
NODE_FIT_ERROR_KEY = "error"

NOT_FOUND = OpenApiResponse(DetailErrorSerializer, description="No such node")
NODE_PARAMETERS = [OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, description="Node name.")]
NODE_LISTING_RESPONSES = {
    200: serializers.ClusterListingSerializer,
    400: OpenApiResponse(ErrorSerializer, description="An invalid parameter, e.g. an unknown min_fit"),
    404: OpenApiResponse(ErrorSerializer, description="No such node"),
    503: OpenApiResponse(ErrorSerializer, description="No hardware report yet"),
}


class NodeViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The cluster's nodes: this one (registered by itself) and the ones added by URL."""

    serializer_class = serializers.ClusterNodeSerializer
    lookup_field = "name"
    lookup_value_regex = "[^/]+"

    def get_queryset(self) -> QuerySet[Node]:
        return services.nodes_list()

    @extend_schema(
        operation_id="nodes_list",
        description="Every node with its health, last report and its own top models; unreachable ones included.",
    )
    def list(self, request: HttpRequest) -> Response:
        return super().list(request)

    @extend_schema(
        operation_id="nodes_register",
        description="Add a node by the URL of its node surface; it is polled at once. Without a name, "
        "the node must answer to tell its own (503 otherwise).",
        request=serializers.ClusterNodeCreateSerializer,
        responses={
            201: serializers.ClusterNodeSerializer,
            409: OpenApiResponse(DetailErrorSerializer, description="Name or URL already registered"),
            503: OpenApiResponse(DetailErrorSerializer, description="No name given and the node is down"),
        },
    )
    def create(self, request: HttpRequest) -> Response:
        body = serializers.ClusterNodeCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        node = services.node_register(**body.validated_data)
        return Response(serializers.ClusterNodeSerializer(node).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="nodes_retrieve",
        parameters=NODE_PARAMETERS,
        responses={200: serializers.ClusterNodeSerializer, 404: NOT_FOUND},
    )
    def retrieve(self, request: HttpRequest, name: str) -> Response:
        return Response(serializers.ClusterNodeSerializer(services.node_get(name=name)).data)

    @extend_schema(
        operation_id="nodes_remove",
        parameters=NODE_PARAMETERS,
        responses={
            204: None,
            404: NOT_FOUND,
            409: OpenApiResponse(DetailErrorSerializer, description="The local node"),
        },
    )
    def destroy(self, request: HttpRequest, name: str) -> Response:
        services.node_delete(name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="nodes_poll",
        description="Poll the node now and answer with what it reported (or why it could not be reached).",
        parameters=NODE_PARAMETERS,
        request=None,
        responses={200: serializers.ClusterNodeSerializer, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["post"])
    def poll(self, request: HttpRequest, name: str) -> Response:
        return Response(serializers.ClusterNodeSerializer(services.node_poll(name=name)).data)


@extend_schema_view(
    get=extend_schema(
        operation_id="nodes_models",
        description="The node's model listing (same filters as the node surface's /api/v1/models), scored "
        "with this platform's catalog on the hardware the node last reported.",
        parameters=[*NODE_PARAMETERS, serializers.FitQueryWithWhatIfSerializer],
        responses=NODE_LISTING_RESPONSES,
    )
)
class NodeModelsView(APIView):
    """A node's listings (`endpoint` picks the defaults, as on the node surface)."""

    error_key = NODE_FIT_ERROR_KEY
    endpoint = "models"

    def get(self, request: HttpRequest, name: str) -> Response:
        query = parsed_query(request.query_params, endpoint=self.endpoint)
        return Response(services.node_models(name=name, query=query))


@extend_schema_view(
    get=extend_schema(
        operation_id="nodes_models_top",
        description="The node's best runnable models (limit 5, include_too_tight false by default).",
        parameters=[*NODE_PARAMETERS, serializers.FitQueryWithWhatIfSerializer],
        responses=NODE_LISTING_RESPONSES,
    )
)
class NodeTopModelsView(NodeModelsView):
    endpoint = "top"


class PlacementView(APIView):
    error_key = NODE_FIT_ERROR_KEY

    @extend_schema(
        operation_id="placement",
        description="Rank the cluster's nodes for one model: runnable first, then by score and speed. When no "
        "node can take it, `best` is null and `reason` says why.",
        parameters=[serializers.PlacementQuerySerializer],
        responses={
            200: serializers.PlacementResponseSerializer,
            400: OpenApiResponse(
                serializers.PlacementErrorSerializer,
                description="A missing model, an invalid value, or an ambiguous model (with `matches`), e.g. "
                '{"error": "invalid min_fit value: use perfect|good|marginal|too_tight"}',
            ),
            404: OpenApiResponse(ErrorSerializer, description="Model not in the catalog"),
        },
    )
    def get(self, request: HttpRequest) -> Response:
        params = serializers.present_params(request.query_params)
        what_if = serializers.parsed_what_if(request.query_params)
        query = serializers.PlacementQuerySerializer(data=params)
        query.is_valid(raise_exception=True)
        data = {key: query.validated_data.get(key) for key in ("model", "max_context", "min_fit", "force_runtime")}
        return Response(services.placement_rank(**data, what_if=what_if))
