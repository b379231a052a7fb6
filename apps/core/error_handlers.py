"""One exception handler for every API view, shaped per surface.

Surfaces whose spec answers `{"detail": …}` (FastAPI-style clients) get 422 with a list of
field errors for invalid input; surfaces whose spec answers `{"error": …}` get 400 with one
message. A view may set `error_key` to override its surface (runtime-api routes on the platform),
or define `format_error(message, status) -> dict` for a wholly different envelope (OpenAI's).

Client input is never a 5xx: a body past MODELYARD_MAX_BODY_BYTES is 413, too many parameters 400.
A database that cannot be reached is 503 with `Retry-After`, from DRF views (`api_exception_handler`)
and from plain views and middleware alike (`handler500`).
"""

import logging
import sys

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response

from apps.core.errors import DomainError
from apps.core.middleware import (
    HTML_PATH_PREFIXES,
    body_too_large_message,
    error_key_for,
    error_response,
    too_many_fields_message,
)
from apps.core.parsers import TOO_DEEP
from apps.core.renderers import login_redirect, wants_browsable_page

logger = logging.getLogger("modelyard.errors")

UNAUTHORIZED_MESSAGE = "Invalid or missing API key"
DATABASE_UNAVAILABLE_MESSAGE = "database unavailable; retry later"
# Seconds a client is asked to wait when the database is down (the `Retry-After` header).
DATABASE_RETRY_AFTER_S = 5


def is_database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` means the database cannot be reached (down, restarting, refusing connections)."""
    return isinstance(exc, OperationalError | InterfaceError)


def api_exception_handler(exc: Exception, context: dict) -> Response | HttpResponseRedirect:
    if isinstance(exc, exceptions.NotAuthenticated) and wants_browsable_page(context.get("request")):
        redirect = login_redirect(context["request"])
        if redirect is not None:  # a browser that may not read the API yet: the admin login, then back
            return redirect
    response = _error_response(exc, context)
    format_error = getattr(context.get("view"), "format_error", None)
    if format_error is not None:
        message = response.data.get("detail") or response.data.get("error")
        if not isinstance(message, str):  # a list of field errors
            message = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in message)
        response.data = format_error(message, response.status_code)
    return response


def _error_response(exc: Exception, context: dict) -> Response:
    request = context.get("request")
    view = context.get("view")
    key = getattr(view, "error_key", None) or error_key_for(request)

    if isinstance(exc, DomainError):
        return Response({key: exc.message, **exc.fields}, status=exc.status_code)
    if is_database_unavailable(exc):
        logger.error("database unavailable on %s: %s", getattr(request, "path", "?"), exc)
        return Response({key: DATABASE_UNAVAILABLE_MESSAGE}, status=503, headers=_retry_after())
    if isinstance(exc, RequestDataTooBig):
        return Response({key: body_too_large_message()}, status=413)
    if isinstance(exc, TooManyFieldsSent):
        return Response({key: too_many_fields_message()}, status=400)
    if isinstance(exc, SuspiciousOperation):
        return Response({key: "Bad request"}, status=400)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        return Response({key: str(exc) or "Not found"}, status=404)
    if isinstance(exc, DjangoPermissionDenied):
        return Response({key: str(exc) or "Forbidden"}, status=403)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response = Response({key: UNAUTHORIZED_MESSAGE}, status=401)
        authenticate_header = view.get_authenticate_header(request) if view else None
        if authenticate_header:
            response["WWW-Authenticate"] = authenticate_header
        return response
    if isinstance(exc, exceptions.ValidationError):
        return _validation_response(exc, key, request)
    if isinstance(exc, exceptions.ParseError):
        if key == "detail":
            field_error = {"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error"}
            if exc.get_codes() == TOO_DEEP:  # valid JSON, but more than any API takes
                field_error = {"type": exc.get_codes(), "loc": ["body"], "msg": str(exc.detail)}
            return Response({"detail": [field_error]}, status=422)
        return Response({"error": f"invalid JSON body: {exc.detail}"}, status=400)
    if isinstance(exc, exceptions.APIException):
        response = Response({key: _message(exc.detail)}, status=exc.status_code)
        if getattr(exc, "wait", None):
            response["Retry-After"] = str(int(exc.wait))
        return response

    request_id = getattr(request, "request_id", "-")
    logger.exception("unhandled error on %s %s", getattr(request, "method", "?"), getattr(request, "path", "?"))
    return Response({key: f"server error: unexpected {type(exc).__name__} (request id {request_id})"}, status=500)


def field_errors(detail: object, loc: tuple = ()) -> list[tuple[tuple, str, str]]:
    """Flatten DRF's nested error detail into (location, message, code) triples."""
    if isinstance(detail, dict):
        return [error for name, sub in detail.items() for error in field_errors(sub, (*loc, name))]
    if isinstance(detail, list):
        nested = any(isinstance(item, dict | list) for item in detail)
        if nested:
            return [error for index, sub in enumerate(detail) for error in field_errors(sub, (*loc, index))]
        return [error for item in detail for error in field_errors(item, loc)]
    return [(loc, str(detail), getattr(detail, "code", "invalid"))]


def _validation_response(exc: exceptions.ValidationError, key: str, request: HttpRequest | None) -> Response:
    errors = field_errors(exc.detail)
    source = "body" if getattr(request, "method", "GET") in {"POST", "PUT", "PATCH"} else "query"
    if key == "detail":
        detail = [
            {"type": code, "loc": [source, *[part for part in loc if part != "non_field_errors"]], "msg": message}
            for loc, message, code in errors
        ]
        return Response({"detail": detail}, status=422)
    parts = [
        f"{'.'.join(str(part) for part in loc if part != 'non_field_errors')}: {message}".lstrip(": ")
        for loc, message, _code in errors
    ]
    return Response({"error": "invalid request: " + "; ".join(parts)}, status=400)


def _message(detail: object) -> str:
    if isinstance(detail, list | dict):
        return "; ".join(message for _loc, message, _code in field_errors(detail))
    return str(detail)


def _retry_after() -> dict[str, str]:
    return {"Retry-After": str(DATABASE_RETRY_AFTER_S)}


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's answer to a bad request outside DRF (a body or query past the limits): the surface's body."""
    if isinstance(exception, RequestDataTooBig):
        return error_response(request, body_too_large_message(), 413)
    if isinstance(exception, TooManyFieldsSent):
        return error_response(request, too_many_fields_message(), 400)
    if request.path.startswith(HTML_PATH_PREFIXES):
        return defaults.bad_request(request, exception)
    return error_response(request, "Bad request", 400)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith(HTML_PATH_PREFIXES):
        return defaults.page_not_found(request, exception)
    return error_response(request, "Not found", 404)


def handler500(request: HttpRequest) -> HttpResponse:
    """An error no view handled: 503 with `Retry-After` when the database is unavailable (middleware
    such as sessions reach it before any view), else 500; JSON on API paths.

    Django calls this inside its `except` block (in the same thread, or one that asgiref re-raises
    the exception in), so the exception is `sys.exc_info()`'s.
    """
    if is_database_unavailable(sys.exc_info()[1]):
        if request.path.startswith(HTML_PATH_PREFIXES):
            response = HttpResponse(
                "<!doctype html><title>503 Service Unavailable</title>"
                "<h1>Service unavailable</h1><p>The database cannot be reached. Retry in a moment.</p>",
                status=503,
            )
        else:
            response = error_response(request, DATABASE_UNAVAILABLE_MESSAGE, 503)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
        return response
    if request.path.startswith(HTML_PATH_PREFIXES):
        return defaults.server_error(request)
    request_id = getattr(request, "request_id", "-")
    return error_response(request, f"server error: unexpected error (request id {request_id})", 500)
