"""Per-port URLconf selection, request ids, body size limit, JSON-only error pages on API paths, static files."""

import contextvars
import functools
import logging
import re
import uuid
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from django.utils.module_loading import import_string
from whitenoise.middleware import WhiteNoiseMiddleware

from project.surfaces import surface_for_port

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# DRF's format name of the browsable API (core.renderers), whose error pages stay HTML.
BROWSABLE_FORMAT = "api"

# Paths on the platform that are pages for people, not API paths.
HTML_PATH_PREFIXES = ("/admin/", "/admin", "/static/", "/api/docs")

STATUS_MESSAGES = {
    400: "Bad request",
    401: "Invalid or missing API key",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
    500: "Internal server error",
    503: "Service unavailable",
}


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def resolved_view_class(request: HttpRequest) -> type | None:
    """The class of the view the request's path resolves to, if any (for errors raised before or
    outside the view: a body too large, the database down in a middleware)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info, urlconf=getattr(request, "urlconf", None))
        except Resolver404:
            return None
    return getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)


def error_view_class(request: HttpRequest) -> type | None:
    """The view whose error body an error of `request` takes: the one its path resolves to, else
    that of the route whose literal beginning is the longest start of the path (`/backends/a/b` is
    answered like `/backends/{id}`: a runtime-spec path, `{"error": …}`)."""
    view_class = resolved_view_class(request)
    if view_class is not None:
        return view_class
    path = request.path_info.lstrip("/")
    routes = _route_prefixes(getattr(request, "urlconf", None))
    matches = [(len(prefix), view) for prefix, view in routes if path.startswith(prefix)]
    return max(matches, key=lambda match: match[0])[1] if matches else None


@functools.cache
def _route_prefixes(urlconf: str | None) -> list[tuple[str, type]]:
    """(literal beginning of the route, view class) of every API route of `urlconf`."""
    return [(prefix, view) for prefix, view in _walk(get_resolver(urlconf).url_patterns, "") if prefix]


def _walk(patterns: list, prefix: str) -> list[tuple[str, type]]:
    routes = []
    for pattern in patterns:
        literal = prefix + _literal_start(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes += _walk(pattern.url_patterns, literal)
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
            if view is not None:
                routes.append((literal, view))
    return routes


def _literal_start(pattern: object) -> str:
    """The text every path that a route pattern matches starts with: up to its first parameter."""
    route = getattr(pattern, "_route", None)
    if route is not None:  # path("backends/<str:pk>")
        return route.split("<", 1)[0]
    regex = pattern.regex.pattern.lstrip("^")  # re_path(r"^api/v1/models/?$")
    stop = re.search(r"[()\[\].+?*{|$\\]", regex)
    if stop is None:
        return regex
    literal = regex[: stop.start()]
    return literal[:-1] if stop.group() in "?*{" else literal  # the character before is optional


def error_key_for(request: HttpRequest) -> str:
    """The key of the error body: the view's own `error_key` (runtime-api routes on the platform),
    else the surface's."""
    view_key = getattr(error_view_class(request), "error_key", None) if request is not None else None
    if view_key:
        return view_key
    surface = getattr(request, "surface", None)
    return surface.error_key if surface else "detail"


def error_response(request: HttpRequest, message: str, status: int) -> JsonResponse:
    """The error body of the request's view or surface: `{"detail": …}`, `{"error": …}`, or the
    view's own envelope (`format_error`, OpenAI's on the gateway)."""
    view_class = error_view_class(request)
    if hasattr(view_class, "format_error"):
        view = view_class()
        view.request = request
        return JsonResponse(view.format_error(message, status), status=status)
    return JsonResponse({error_key_for(request): message}, status=status)


def body_too_large_message(limit: int | None = None) -> str:
    """The 413's message, naming the setting an operator raises for larger bodies."""
    limit = limit or settings.MODELYARD_MAX_BODY_BYTES
    setting = (
        "MODELYARD_MAX_BODY_BYTES" if limit == settings.MODELYARD_MAX_BODY_BYTES else "MODELYARD_PROJECTS_MAX_UPLOAD_MB"
    )
    return f"request body too large: at most {limit} bytes (setting {setting})"


def body_limit(request: HttpRequest) -> int:
    """The most bytes a request's body may have: a multipart body (a file upload, whose files stream
    to disk) up to MODELYARD_MAX_UPLOAD_BYTES, any other up to MODELYARD_MAX_BODY_BYTES."""
    if request.content_type == "multipart/form-data":
        return max(settings.MODELYARD_MAX_UPLOAD_BYTES, settings.MODELYARD_MAX_BODY_BYTES)
    return settings.MODELYARD_MAX_BODY_BYTES


def too_many_fields_message() -> str:
    return f"too many query or form parameters: at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}"


def declared_body_too_large(request: HttpRequest) -> bool:
    """Whether the request's Content-Length is past its `body_limit`. A body sent without
    one is held to the same limit when read (Django's DATA_UPLOAD_MAX_MEMORY_SIZE)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > body_limit(request)


def _chunked_without_length(request: HttpRequest) -> bool:
    """A body sent with `Transfer-Encoding: chunked` (httpx and requests do so for a generator)."""
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    return chunked and not request.META.get("CONTENT_LENGTH")


class HybridMiddleware:
    """Base of a middleware that is sync and async capable, so that under ASGI it adds no thread
    hop to async views (the gateway). A subclass's `__call__` returns `self._acall(request)` when
    `self.is_async`."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)


class SurfaceMiddleware(HybridMiddleware):
    """Routes each request to its surface's URLconf by the port it arrived on.

    A body declared larger than MODELYARD_MAX_BODY_BYTES is answered 413 at once, on every surface.

    The port is the listening port from the ASGI scope (a spoofed Host header cannot change it).
    On API paths, any HTML error page that Django or a middleware produced (404 for an unknown
    path, 405, CSRF 403, a debug page) is replaced by the surface's JSON error body.
    Sync and async capable: under ASGI it adds no thread hop to async views (the gateway).
    """

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._acall(request)
        token = self._before(request)
        try:
            response = self._refused(request) or self.get_response(request)
        finally:
            request_id_var.reset(token)
        return self._after(request, response)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        token = self._before(request)
        try:
            response = self._refused(request) or await self.get_response(request)
        finally:
            request_id_var.reset(token)
        return self._after(request, response)

    @staticmethod
    def _before(request: HttpRequest) -> contextvars.Token:
        request.surface = surface_for_port(request.META.get("SERVER_PORT"))
        request.urlconf = request.surface.urlconf
        request.request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex[:16]
        return request_id_var.set(request.request_id)

    @staticmethod
    def _refused(request: HttpRequest) -> HttpResponse | None:
        """413 for a body declared past the limit, 400 for too many query parameters: on every
        route, whether or not its view reads them."""
        if declared_body_too_large(request):
            return error_response(request, body_too_large_message(body_limit(request)), 413)
        if _chunked_without_length(request):
            # DRF reads a body with no Content-Length as empty ("field required" for every field
            # sent). Under ASGI the server has already received the whole body: measure it.
            length = len(request.body)
            if length > body_limit(request):
                return error_response(request, body_too_large_message(body_limit(request)), 413)
            request.META["CONTENT_LENGTH"] = str(length)
        try:
            request.GET  # noqa: B018  (parsing is what counts the fields)
        except TooManyFieldsSent:
            return error_response(request, too_many_fields_message(), 400)
        return None

    @staticmethod
    def _after(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if _is_html_error_on_api_path(request, response):
            response = error_response(request, STATUS_MESSAGES.get(response.status_code, "Error"), response.status_code)
        response["X-Request-ID"] = request.request_id
        return response


def _is_html_error_on_api_path(request: HttpRequest, response: HttpResponse) -> bool:
    if response.status_code < 400 or request.path.startswith(HTML_PATH_PREFIXES):
        return False
    if getattr(getattr(response, "accepted_renderer", None), "format", None) == BROWSABLE_FORMAT:
        return False  # the browsable API's page for a browser, showing the JSON error body
    return "application/json" not in response.get("Content-Type", "")


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise (daphne serves no files), passing other requests on without a thread hop."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        super().__init__(get_response)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        static_file = self.find_file(request.path_info) if self.autorefresh else self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)


class BrowserMiddleware(HybridMiddleware):
    """Runs settings.BROWSER_MIDDLEWARE (sessions, auth, CSRF, messages…) only for browsers.

    A request is a browser's when it carries the session cookie or asks for a page for people
    (the admin, the API docs). Everything else, every API client, goes straight on.
    """

    def __init__(self, get_response: Callable) -> None:
        super().__init__(get_response)
        chain = get_response
        for path in reversed(settings.BROWSER_MIDDLEWARE):
            chain = import_string(path)(chain)
        self.browser_chain = chain

    @staticmethod
    def is_browser(request: HttpRequest) -> bool:
        return settings.SESSION_COOKIE_NAME in request.COOKIES or request.path.startswith(HTML_PATH_PREFIXES)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._acall(request)
        return (self.browser_chain if self.is_browser(request) else self.get_response)(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        if self.is_browser(request):
            return await self.browser_chain(request)
        response = await self.get_response(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response
