"""HTTP views of the projects spec's Chat section: completions (JSON or SSE), sessions, models.

The completion view is async: a stream is relayed chunk by chunk through core's SSE helper, and a
client that disconnects cancels it, which closes the backend's stream (generation stops).
"""

from adrf.views import APIView as AsyncAPIView
from asgiref.sync import sync_to_async
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.backends import gateway
from apps.core.schema import DetailErrorSerializer, ValidationErrorSerializer
from apps.core.sse import MEDIA_TYPE, EventStreamRenderer, sse_data_response
from apps.core.validation import validated
from apps.projects import chat, sessions
from apps.projects.api import chat_serializers as s
from apps.projects.services import project_get

ERROR = DetailErrorSerializer
SESSION_HEADER = "X-Session-ID"
NO_SESSION_HEADER = "X-No-Session"
STREAM = OpenApiResponse(
    OpenApiTypes.STR,
    description='`data: {"object": "chat.completion.chunk", …}` lines; a last chunk with `choices: []` and '
    '`rag_sources`; `data: [DONE]`. A failure after the first byte: `data: {"error": {…}}` then `[DONE]`.',
)


def _session_headers(turn: chat.ChatTurn) -> dict[str, str]:
    return {SESSION_HEADER: turn.session_id} if turn.session_id else {}


def _turn_prepare(request: HttpRequest, namespace: str, project: str) -> chat.ChatTurn:
    """The project, the validated body and the prepared turn, in one trip to Django's sync thread."""
    owner = project_get(namespace=namespace, name=project)
    body = validated(s.ChatRequestSerializer, request.data)
    return chat.chat_prepare(
        project=owner,
        request=body,
        session_id=request.headers.get(SESSION_HEADER) or None,
        stateless=NO_SESSION_HEADER in request.headers,
    )


class ChatCompletionsView(AsyncAPIView):
    renderer_classes = [JSONRenderer, EventStreamRenderer]

    @extend_schema(
        operation_id="chat_completions",
        summary="Send chat message (OpenAI-compatible)",
        description=(
            "The project's model (`model`, else `default_model`; unknown: 404 naming the models), its prompts, "
            "the session's history (`X-Session-ID`; a new one is made and returned when missing; `X-No-Session`: "
            "stateless) and this turn's RAG context (`rag_enabled`, `database` — unknown: 404 —, `rag_top_k`, "
            "`rag_score_threshold`, `rag_queries` run concurrently). The answer names its sources in "
            "`rag_sources`. Backend down before the answer starts: 503."
        ),
        request=s.ChatRequestSerializer,
        parameters=[
            OpenApiParameter(SESSION_HEADER, str, OpenApiParameter.HEADER, description="The session to continue."),
            OpenApiParameter(NO_SESSION_HEADER, str, OpenApiParameter.HEADER, description="Any value: stateless."),
            OpenApiParameter(
                SESSION_HEADER, str, OpenApiParameter.HEADER, response=[200], description="Stateful mode only."
            ),
        ],
        responses={
            (200, "application/json"): s.ChatCompletionSerializer,
            (200, MEDIA_TYPE): STREAM,
            400: ERROR,
            404: ERROR,
            422: OpenApiResponse(ValidationErrorSerializer, description="Invalid fields, each with its path"),
            503: ERROR,
        },
    )
    async def post(self, request: HttpRequest, namespace: str, project: str) -> HttpResponseBase:
        turn = await sync_to_async(_turn_prepare)(request, namespace, project)
        if not turn.stream:
            return Response(await chat.chat_answer(turn), headers=_session_headers(turn))
        chunks = await chat.chat_stream(turn)
        response = sse_data_response(chunks, error_data=gateway.stream_error_chunk, end_with_done=True)
        for name, value in _session_headers(turn).items():
            response[name] = value
        return response


class ChatSessionHistoryView(APIView):
    @extend_schema(
        operation_id="chat_session_history",
        summary="Get chat history",
        description="The session's messages, oldest first (never RAG context). 404: unknown or expired session.",
        responses={200: s.HistorySerializer, 404: ERROR},
    )
    def get(self, request: HttpRequest, namespace: str, project: str, session_id: str) -> Response:
        owner = project_get(namespace=namespace, name=project)
        return Response({"messages": sessions.session_history(project=owner, session_id=session_id)})


class ChatSessionView(APIView):
    @extend_schema(
        operation_id="chat_session_delete",
        summary="Delete chat session",
        description="Deletes the session and its history. 404 for an unknown or expired session.",
        responses={200: s.SessionDeletedSerializer, 404: ERROR},
    )
    def delete(self, request: HttpRequest, namespace: str, project: str, session_id: str) -> Response:
        owner = project_get(namespace=namespace, name=project)
        sessions.session_delete(project=owner, session_id=session_id)
        return Response({"message": f"Session {session_id} deleted"})


class ChatSessionsView(APIView):
    @extend_schema(
        operation_id="chat_sessions_delete",
        summary="Delete all chat sessions",
        description="Deletes every session of the project and its history; `count` is how many were deleted.",
        responses={200: s.SessionsDeletedSerializer, 404: ERROR},
    )
    def delete(self, request: HttpRequest, namespace: str, project: str) -> Response:
        owner = project_get(namespace=namespace, name=project)
        count = sessions.sessions_delete_all(project=owner)
        return Response({"message": f"Deleted {count} session(s)", "count": count})


class ModelsView(APIView):
    @extend_schema(
        operation_id="models_list",
        summary="List available models",
        description="The project's runtime.models; `default` marks the one used when a request names none.",
        responses={200: s.ModelsListSerializer, 404: ERROR},
    )
    def get(self, request: HttpRequest, namespace: str, project: str) -> Response:
        owner = project_get(namespace=namespace, name=project)
        models = chat.models_list(project=owner)
        return Response({"total": len(models), "models": models})
