"""Every URL pattern of every surface, walked: a new view that forgets auth or error handling fails here.

The routes are read from the URLconfs themselves (project/urls*.py, through every `include`), each
pattern filled with placeholder values and resolved back to the same view. Then, with an API key
configured:
- every method of every route answers 401 without the key, in the surface's error body
  (`{"detail"}`, `{"error"}` or OpenAI's error object), except the routes in OPEN below;
- every route that takes an id answers 404 for an id that does not exist, in the same body, except
  the routes in NOT_AN_ID_LOOKUP below. Each exception says why.
The OpenAPI schema needs the key as well; Swagger UI (a page for people) answers a plain 401 without it.
"""

import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from apps.core.error_handlers import UNAUTHORIZED_MESSAGE
from project.surfaces import SURFACES, Surface

pytestmark = pytest.mark.django_db

KEY = "walk-the-urls-key-0123456789"
UNKNOWN_UUID = str(uuid.UUID(int=0x5EED))

# Placeholder values, by the name a pattern gives the parameter: none of them exists in a fresh database.
PLACEHOLDERS = {
    "pk": UNKNOWN_UUID,
    "backend_id": UNKNOWN_UUID,
    "pool_id": UNKNOWN_UUID,
    "model_id": "no-such-org/no-such-model",
    "source": "huggingface",
    "name": "no-such-name",
    "purpose": "no-such-purpose",
    "provider_type": "ollama",  # a valid type: the unknown thing is its configuration
    "model": "no-such-model:latest",
    "repo_id": "no-such-org/no-such-model",
    "revision": "main",
    "path": "config.json",
    # The projects spec: a project that does not exist (every route under it is a 404 for that).
    "namespace": "no-such-namespace",
    "project": "no-such-project",
    "dataset": "no-such-dataset",
    "database_name": "no_such_database",
    "task_id": UNKNOWN_UUID,
    "file_hash": "0" * 64,
    "example_id": "no-such-example",
    "event_id": "evt_20240115_103000_inference_abc123",
    "session_id": "no-such-session",
    # The ML section's saved models: a classifier's folder name, an anomaly detector's file.
    "model_name": "no-such-classifier_20240115_103000",
    "filename": "no-such-detector_isolation_forest.pkl",
}
# The ids of the runtime spec's associations are UUIDs.
PLACEHOLDERS_BY_ROUTE = {
    "model-associations/{model_id}/pools": {"model_id": UNKNOWN_UUID},
    "model-associations/{pool_id}/models/{model_id}": {"model_id": UNKNOWN_UUID},
}

# (surface, path template) → why it answers without a key.
# Django's admin (a login page for people) is not walked: see the last test.
OPEN = {
    ("platform", "health"): "health checks and load balancers carry no key (platform /health superset)",
    ("platform", "health/liveness"): "liveness probe of the projects spec",
    ("node", "health"): "the node spec's health check",
    ("forecast", "health"): "the forecast spec's health check",
    ("runtime", "health"): "the model runtime's health check (the local backend's sync and load balancers)",
}
# (surface, path template) → why an unknown value there is not a 404.
NOT_AN_ID_LOOKUP = {
    ("platform", "pool-by-purpose/{purpose}"): "a filter: the pools of a purpose no pool has are none (200, [])",
    ("platform", "providers/{provider_type}/configure"): "sets the provider's key: nothing is looked up",
    ("node", "api/v1/models/{name}"): "the node spec's substring search by name: no match is an empty list",
    ("platform", "v1/projects/{namespace}"): "a namespace is a filter (none: an empty list); POST creates in it",
}
# Valid bodies for the routes that take an id and a body, so the id is what the answer is about.
BODIES = {
    "backends/{pk}": {"name": "walk", "baseUrl": "http://127.0.0.1:9", "type": "ollama"},
    "pools/{pk}": {"name": "walk", "purposeType": "inference"},
    "models/{pk}": {"canChat": True},
    "hooks/remote/{pk}": {"name": "walk", "endpointUrl": "http://127.0.0.1:9/hook"},
    "hub/api/models/{repo_id}/paths-info/{revision}": {"paths": ["config.json"]},
}


@dataclass(frozen=True)
class Route:
    """One URL pattern of one surface, filled with placeholders."""

    surface: Surface
    template: str  # the pattern with its parameters as {name}
    path: str  # the template filled with placeholders
    params: tuple[str, ...]
    view: type
    methods: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.surface.name}:/{self.template}"


_REGEX_PARAM = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_ROUTE_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def _template(pattern: str) -> str:
    """`^backends/(?P<pk>[^/]+)/?$` or `pools/<str:name>` as `backends/{pk}`, `pools/{name}`."""
    pattern = re.sub(r"\(\?:/\(\?P<\w+>[^)]*\)\)\?", "", pattern)  # an optional trailing group
    pattern = _REGEX_PARAM.sub(r"{\1}", pattern)
    pattern = _ROUTE_PARAM.sub(r"{\1}", pattern)
    return pattern.replace("^", "").replace("$", "").replace("/?", "").replace("\\", "")


def _walk(resolver: URLResolver, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for entry in resolver.url_patterns:
        pattern = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += _walk(entry, pattern)
        else:
            found.append((pattern, entry))
    return found


def _methods(pattern: URLPattern, view: type) -> tuple[str, ...]:
    actions = getattr(pattern.callback, "actions", None)
    if actions:
        return tuple(method.upper() for method in actions)
    names = [method for method in view.http_method_names if method not in {"options", "head"}]
    return tuple(method.upper() for method in names if hasattr(view, method))


def _routes() -> list[Route]:
    routes = []
    for surface in SURFACES:
        for raw, pattern in _walk(get_resolver(surface.urlconf)):
            if raw.startswith("admin/"):
                continue  # Django's admin: a login page for people, checked by Django's own tests
            view = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
            template = _template(raw)
            values = {**PLACEHOLDERS, **PLACEHOLDERS_BY_ROUTE.get(template, {})}
            params = tuple(re.findall(r"{(\w+)}", template))
            path = "/" + template.format(**{name: values[name] for name in params})
            routes.append(Route(surface, template, path, params, view, _methods(pattern, view)))
    return routes


ROUTES = _routes()
API_ROUTES = [route for route in ROUTES if not route.template.startswith(("api/schema", "api/docs"))]


def request_for(client: Client, route: Route, method: str, *, key: str | None) -> object:
    """`method` on the route's placeholder path, on its surface's port, with `key` or none."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    body = json.dumps(BODIES.get(route.template, {})) if method in {"POST", "PUT", "PATCH"} else ""
    return client.generic(
        method, route.path, data=body, content_type="application/json", SERVER_PORT=str(route.surface.port), **headers
    )


@pytest.fixture
def empty_hub(settings: object) -> Iterator[str]:
    """A hub that has no repository at all, answering as huggingface.co does for an unknown one."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:
            body = b'{"error": "Repository not found"}'
            self.send_response(404)
            self.send_header("X-Error-Code", "RepoNotFound")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_POST = do_GET

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.MODELYARD_HF_ENDPOINT = f"http://127.0.0.1:{server.server_port}"
    yield settings.MODELYARD_HF_ENDPOINT
    server.shutdown()
    server.server_close()


def error_body(route: Route, method: str, message: str, status: int) -> dict:
    """The body the route's view (OpenAI's object on the gateway) or surface gives an error."""
    view = route.view()
    if hasattr(view, "format_error"):
        view.request = SimpleNamespace(method=method)  # one view may answer two specs, by method
        return view.format_error(message, status)
    return {getattr(route.view, "error_key", None) or route.surface.error_key: message}


def message_of(body: dict) -> str:
    """The message of any of the error bodies: `{"detail"}`, `{"error"}` or OpenAI's object."""
    error = body.get("error")
    message = error.get("message") if isinstance(error, dict) else error or body.get("detail")
    assert isinstance(message, str) and message, body
    return message


# The hub's error body carries its error code too, as huggingface.co's does.
EXTRA_ERROR_KEYS = {"error_code"}


def test_the_walk_finds_every_surface_and_resolves_each_placeholder_path_to_its_own_view():
    assert {route.surface.name for route in ROUTES} == {surface.name for surface in SURFACES}
    assert len(ROUTES) > 60
    for route in ROUTES:
        match = resolve(route.path, urlconf=route.surface.urlconf)
        view = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
        assert view is route.view, route.id
        assert route.methods, route.id


def test_the_open_routes_and_exceptions_all_exist():
    templates = {(route.surface.name, route.template) for route in ROUTES}
    assert set(OPEN) <= templates
    assert set(NOT_AN_ID_LOOKUP) <= templates


@pytest.mark.parametrize(
    ("route", "method"),
    [(r, method) for r in API_ROUTES for method in r.methods if (r.surface.name, r.template) not in OPEN],
    ids=lambda value: value.id if isinstance(value, Route) else value,
)
def test_without_the_key_every_route_is_401_in_its_surfaces_error_body(client, settings, route, method):
    settings.MODELYARD_ENV_API_KEYS = [KEY]

    response = request_for(client, route, method, key=None)

    assert response.status_code == 401, response.content
    assert response.json() == error_body(route, method, UNAUTHORIZED_MESSAGE, 401)


@pytest.mark.parametrize("route", [r for r in ROUTES if r.template.startswith(("api/schema", "api/docs"))], ids=str)
def test_the_schema_and_docs_need_the_key_too(client, settings, route):
    settings.MODELYARD_ENV_API_KEYS = [KEY]
    assert request_for(client, route, "GET", key=None).status_code == 401
    assert request_for(client, route, "GET", key=KEY).status_code == 200


@pytest.mark.parametrize(("surface", "template"), sorted(OPEN), ids=lambda value: str(value))
def test_the_open_routes_answer_without_the_key(client, settings, surface, template):
    settings.MODELYARD_ENV_API_KEYS = [KEY]
    route = next(r for r in ROUTES if (r.surface.name, r.template) == (surface, template))
    assert request_for(client, route, "GET", key=None).status_code in {200, 503}  # 503: a service is down


@pytest.mark.parametrize(
    ("route", "method"),
    [
        (route, method)
        for route in API_ROUTES
        for method in route.methods
        if route.params and (route.surface.name, route.template) not in NOT_AN_ID_LOOKUP
    ],
    ids=lambda value: value.id if isinstance(value, Route) else value,
)
def test_an_unknown_id_is_404_in_its_surfaces_error_body(client, settings, empty_hub, route, method):
    settings.MODELYARD_ENV_API_KEYS = [KEY]

    response = request_for(client, route, method, key=KEY)

    assert response.status_code == 404, response.content
    body = response.json()
    expected = error_body(route, method, message_of(body), 404)
    if isinstance(expected.get("error"), dict):  # OpenAI's object: its type and code may be the specific ones
        assert set(body) == {"error"} and set(body["error"]) == set(expected["error"]), body
        assert isinstance(body["error"]["code"], str | None), body
    else:
        assert expected.items() <= body.items() and set(body) - set(expected) <= EXTRA_ERROR_KEYS, body


def test_the_admin_is_a_login_page_for_people_not_an_open_door(client, settings):
    """Django's admin is skipped by the walk: its only open page is the login form."""
    settings.MODELYARD_ENV_API_KEYS = [KEY]

    assert client.get("/admin/login/").status_code == 200
    response = client.get("/admin/")
    assert (response.status_code, response["Location"]) == (302, "/admin/login/?next=/admin/")
