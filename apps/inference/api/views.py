"""The runtime surface (its own port, served by `manage.py runtime`): OpenAI's chat, embeddings and
models, plus rerank and classify. Every error is OpenAI's error object, so its clients raise the
right exception; a busy model is 503 with `Retry-After`.

Views are async: the database is read in Django's thread (`sync_to_async`), the models compute in
threads of their own (`in_model_thread`), so one model's long answer never holds another's request.
"""

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from adrf.views import APIView as AsyncAPIView
from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from apps.core.error_handlers import api_exception_handler, field_errors
from apps.core.errors import DomainError
from apps.core.openai_errors import OpenAIErrorSerializer, error_body
from apps.core.sse import MEDIA_TYPE, EventStreamRenderer, sse_data_response
from apps.core.validation import validated
from apps.inference import services
from apps.inference.api import serializers as s
from apps.inference.engines import CHAT, CLASSIFY, EMBEDDING, RERANK
from apps.inference.residency import Busy


def runtime_exception_handler(exc: Exception, context: dict) -> Response:
    """Invalid input is OpenAI's 400; domain errors keep their status, with their `code` and `param`
    when they have them (and `Retry-After` when the model is busy); the rest goes through core's
    handler, which renders with the view's `format_error`."""
    if isinstance(exc, exceptions.ValidationError):
        errors = field_errors(exc.detail)
        message = "; ".join(f"{'.'.join(map(str, loc))}: {text}".lstrip(": ") for loc, text, _code in errors)
        param = ".".join(map(str, errors[0][0])) if errors and errors[0][0] else None
        return Response(error_body(message or "invalid request", 400, code="invalid_value", param=param), status=400)
    if isinstance(exc, exceptions.ParseError):
        return Response(error_body(f"invalid JSON body: {exc.detail}", 400, code="invalid_json"), status=400)
    if isinstance(exc, DomainError):
        code, param = exc.fields.get("code"), exc.fields.get("param")
        response = Response(
            error_body(exc.message, exc.status_code, code=code and str(code), param=param and str(param)),
            status=exc.status_code,
        )
        if isinstance(exc, Busy):
            response["Retry-After"] = str(exc.retry_after_s)
        return response
    return api_exception_handler(exc, context)


class ModelRuntimeApi:
    """OpenAI's error object for every error of the runtime surface, whichever layer answers it."""

    error_serializer = OpenAIErrorSerializer

    def format_error(self, message: str, status_code: int) -> dict:
        return error_body(message, status_code)

    def get_exception_handler(self) -> Callable[[Exception, dict], Response]:
        return runtime_exception_handler


ERRORS = {
    400: OpenApiResponse(OpenAIErrorSerializer, description="Invalid input, or a model of another kind"),
    404: OpenApiResponse(OpenAIErrorSerializer, description="The model is not in the store"),
    500: OpenApiResponse(OpenAIErrorSerializer, description="The model failed to load or to run"),
    503: OpenApiResponse(
        OpenAIErrorSerializer,
        description="The model is busy (`Retry-After`), does not fit in memory, or the database is down",
    ),
}


# Model calls wait in their model's queue (up to MODELYARD_RUNTIME_QUEUE_SIZE each) and then compute:
# a pool of their own, so waiting callers never starve asyncio's small default one.
MODEL_CALLS = ThreadPoolExecutor(max_workers=64, thread_name_prefix="runtime-call")


async def in_model_thread(function: Callable[..., Any], **kwargs: Any) -> Any:
    """`function(**kwargs)` in a model-call thread, awaited."""
    return await asyncio.get_running_loop().run_in_executor(MODEL_CALLS, functools.partial(function, **kwargs))


async def _resolve(model: str, kind: str) -> services.ModelFiles:
    return await sync_to_async(services.model_resolve)(model=model, kind=kind)


class ChatCompletionsView(ModelRuntimeApi, AsyncAPIView):
    renderer_classes = [JSONRenderer, EventStreamRenderer]

    @extend_schema(
        operation_id="runtimeCreateChatCompletion",
        request=s.ChatCompletionRequestSerializer,
        responses={200: s.ChatCompletionSerializer, (200, MEDIA_TYPE): OpenApiTypes.STR, **ERRORS},
    )
    async def post(self, request: HttpRequest) -> HttpResponseBase:
        data = validated(s.ChatCompletionRequestSerializer, request.data)
        model = await _resolve(data["model"], CHAT)
        messages = [dict(message) for message in data["messages"]]
        options = services.chat_options(data)
        if not data["stream"]:
            return Response(
                await in_model_thread(services.chat_complete, model=model, messages=messages, options=options)
            )
        stream = await in_model_thread(services.chat_stream_open, model=model, messages=messages, options=options)
        include_usage = bool((data.get("stream_options") or {}).get("include_usage"))
        return sse_data_response(
            stream.chunks(include_usage=include_usage),
            error_data=lambda message: error_body(message, 500),
            end_with_done=True,
        )


class EmbeddingsView(ModelRuntimeApi, AsyncAPIView):
    @extend_schema(
        operation_id="runtimeCreateEmbedding",
        request=s.EmbeddingsRequestSerializer,
        responses={200: s.EmbeddingsSerializer, **ERRORS},
    )
    async def post(self, request: HttpRequest) -> Response:
        data = validated(s.EmbeddingsRequestSerializer, request.data)
        model = await _resolve(data["model"], EMBEDDING)
        body = await in_model_thread(
            services.embeddings_create,
            model=model,
            inputs=data["input"],
            dimensions=data.get("dimensions"),
            encoding_format=data["encoding_format"],
        )
        return Response(body)


class RerankView(ModelRuntimeApi, AsyncAPIView):
    @extend_schema(
        operation_id="runtimeRerank",
        request=s.RerankRequestSerializer,
        responses={200: s.RerankSerializer, **ERRORS},
    )
    async def post(self, request: HttpRequest) -> Response:
        data = validated(s.RerankRequestSerializer, request.data)
        model = await _resolve(data["model"], RERANK)
        body = await in_model_thread(
            services.rerank, model=model, query=data["query"], documents=data["documents"], top_n=data.get("top_n")
        )
        return Response(body)


class ClassifyView(ModelRuntimeApi, AsyncAPIView):
    @extend_schema(
        operation_id="runtimeClassify",
        request=s.ClassifyRequestSerializer,
        responses={200: s.ClassifySerializer, **ERRORS},
    )
    async def post(self, request: HttpRequest) -> Response:
        data = validated(s.ClassifyRequestSerializer, request.data)
        model = await _resolve(data["model"], CLASSIFY)
        return Response(await in_model_thread(services.classify, model=model, texts=data["texts"]))


class ModelsView(ModelRuntimeApi, AsyncAPIView):
    @extend_schema(operation_id="runtimeListModels", responses={200: s.RuntimeModelListSerializer})
    async def get(self, request: HttpRequest) -> Response:
        return Response({"object": "list", "data": await sync_to_async(services.models_list)()})


class UnloadView(ModelRuntimeApi, AsyncAPIView):
    @extend_schema(
        operation_id="runtimeUnloadModel",
        request=s.UnloadRequestSerializer,
        responses={200: s.UnloadSerializer, 404: ERRORS[404]},
    )
    async def post(self, request: HttpRequest) -> Response:
        data = validated(s.UnloadRequestSerializer, request.data)
        key = await sync_to_async(services.model_key)(model=data["model"])
        unloaded = await in_model_thread(services.model_unload, key=key)
        return Response({"model": data["model"], "unloaded": unloaded})


class HealthView(ModelRuntimeApi, AsyncAPIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(operation_id="runtimeHealth", responses={200: s.RuntimeHealthSerializer})
    async def get(self, request: HttpRequest) -> Response:
        status = services.runtime_status()
        return Response(
            {
                "status": "ok",
                "version": settings.MODELYARD_VERSION,
                "loaded_models": len(status["loaded"]),
                "memory_used_bytes": status["memory_used_bytes"],
                "memory_budget_bytes": status["memory_budget_bytes"],
            }
        )
