"""The runtime spec's task-chain routes: POST /tasks, GET /supported, /hooks/remote (`{"error": …}`)."""

from django.http import HttpRequest
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.chains import selectors, services
from apps.chains.api import serializers as s
from apps.core.schema import ERROR_RESPONSE as ERROR
from apps.core.schema import RuntimeApi
from apps.core.validation import validated

TEXT = OpenApiTypes.STR


class RemoteHookViewSet(RuntimeApi, viewsets.ViewSet):
    """Remote hooks: outside HTTP services that task chains call by name."""

    lookup_value_regex = "[^/]+"

    @extend_schema(
        operation_id="listRemoteHooks",
        summary="List remote hooks",
        description="Newest first; `cursor` (a createdAt) continues after the last page.",
        parameters=[s.RemoteHookPageSerializer],
        responses={200: s.RemoteHookSerializer(many=True), "default": ERROR},
    )
    def list(self, request: HttpRequest) -> Response:
        page = s.RemoteHookPageSerializer(data=request.query_params)
        page.is_valid(raise_exception=True)
        hooks = selectors.remote_hooks_page(**page.validated_data)
        return Response(s.RemoteHookSerializer(hooks, many=True).data)

    @extend_schema(
        operation_id="create",
        summary="Create a remote hook",
        description=(
            "Remote hooks let task chains call outside HTTP services. `name` is unique (409 when taken, also by a "
            "built-in hook); `method` defaults to POST and `timeoutMs` to 5000."
        ),
        request=s.RemoteHookSerializer,
        responses={201: s.RemoteHookSerializer, "default": ERROR},
    )
    def create(self, request: HttpRequest) -> Response:
        hook = services.remote_hook_create(**validated(s.RemoteHookSerializer, request.data))
        return Response(s.RemoteHookSerializer(hook).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="getRemoteHook",
        summary="Get a remote hook",
        responses={200: s.RemoteHookSerializer, "default": ERROR},
    )
    def retrieve(self, request: HttpRequest, pk: str) -> Response:
        return Response(s.RemoteHookSerializer(services.remote_hook_get(hook_id=pk)).data)

    @extend_schema(
        operation_id="update",
        summary="Update a remote hook",
        description="The id in the path wins over any id in the body.",
        request=s.RemoteHookSerializer,
        responses={200: s.RemoteHookSerializer, "default": ERROR},
    )
    def update(self, request: HttpRequest, pk: str) -> Response:
        fields = validated(s.RemoteHookSerializer, request.data)
        fields.pop("id", None)
        hook = services.remote_hook_update(hook_id=pk, **fields)
        return Response(s.RemoteHookSerializer(hook).data)

    @extend_schema(
        operation_id="delete",
        summary="Delete a remote hook",
        description='Answers the JSON string "deleted".',
        responses={200: TEXT, "default": ERROR},
    )
    def destroy(self, request: HttpRequest, pk: str) -> Response:
        services.remote_hook_delete(hook_id=pk)
        return Response("deleted")


class RemoteHookByNameView(RuntimeApi, APIView):
    """A remote hook found by its unique name."""

    @extend_schema(
        operation_id="getRemoteHookByName",
        summary="Get a remote hook by name",
        responses={200: s.RemoteHookSerializer, "default": ERROR},
    )
    def get(self, request: HttpRequest, name: str) -> Response:
        return Response(s.RemoteHookSerializer(services.remote_hook_get_by_name(name=name)).data)


class SupportedView(RuntimeApi, APIView):
    @extend_schema(
        operation_id="supported",
        summary="List the hook types a task chain can use",
        description="The built-in local hooks (sorted), then the remote hooks' names (sorted).",
        responses={200: s.HOOK_TYPES, "default": ERROR},
    )
    def get(self, request: HttpRequest) -> Response:
        return Response(selectors.hook_types_supported())


class TasksView(RuntimeApi, APIView):
    @extend_schema(
        operation_id="executeTaskChain",
        summary="Run a task chain",
        description=(
            "Runs the chain on `input` and answers its output and the captured state of every task run. "
            "400 names the task and field of an invalid chain; 422 (with `state`) when the chain ran and failed. "
            "With `?async=true` the chain runs on a worker: 202 with the job (`GET /api/v1/jobs/{jobId}`), whose "
            "result is this same body."
        ),
        parameters=[s.TaskExecutionQuerySerializer],
        request=s.TaskExecutionRequestSerializer,
        responses={
            200: s.TaskExecutionResponseSerializer,
            202: s.TaskJobSerializer,
            422: OpenApiResponse(s.ChainFailureSerializer, description="The chain ran and failed."),
            "default": ERROR,
        },
    )
    def post(self, request: HttpRequest) -> Response:
        query = s.TaskExecutionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        body = s.TaskExecutionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = {
            "chain": body.validated_data["chain"],
            "input": body.validated_data["input"],
            "input_type": body.validated_data["inputType"],
        }
        if query.validated_data["async"]:
            run, job = services.chain_run_enqueue(**fields)
            accepted = {
                "jobId": str(job.id),
                "chainRunId": str(run.id),
                "state": job.state,
                "statusUrl": f"/api/v1/jobs/{job.id}",
                "eventsUrl": f"/api/v1/jobs/{job.id}/events",
            }
            return Response(s.TaskJobSerializer(accepted).data, status=status.HTTP_202_ACCEPTED)
        run, response = services.chain_run(**fields)
        return Response(s.TaskExecutionResponseSerializer(response).data, headers={"X-Chain-Run-Id": str(run.id)})
