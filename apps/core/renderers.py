"""DRF's browsable API for people on the platform port; every other client keeps plain JSON.

`BrowsableAPIRenderer` is listed after `JSONRenderer` in REST_FRAMEWORK, so a client that sends
no `Accept`, `*/*` or `application/json` gets the same bytes as before; only a client that asks for
`text/html` (a browser) gets the page. `ContentNegotiation` offers it on the platform port alone:
the node and forecast surfaces speak their spec's JSON to browsers too. Who may see the page is
unchanged (`core.auth`): an anonymous browser on a keyed install is sent to the admin login.
"""

import functools
import json
import re

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from drf_spectacular.settings import spectacular_settings
from rest_framework import renderers
from rest_framework.negotiation import DefaultContentNegotiation

from apps.core.middleware import BROWSABLE_FORMAT
from project.surfaces import PLATFORM


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's page with Modelyard's header (`templates/rest_framework/api.html`): links to the admin
    login and the API docs instead of DRF's own login views, which Modelyard does not mount. The
    content form of a POST starts with the spec's example body (`core.schema.REQUEST_EXAMPLES`); that of
    a PUT on an object's page with the object's current values, so sending it unchanged changes nothing."""

    template = "rest_framework/api.html"

    def get_raw_data_form(self, data: object, view: object, method: str, request: HttpRequest) -> object:
        form = super().get_raw_data_form(data, view, method, request)
        if form is not None and form.fields["_content"].initial is None:
            initial = request_example_for(request.path, method, getattr(request, "urlconf", None))
            if method in {"PUT", "PATCH"} and isinstance(data, dict) and request.method == "GET":
                initial = {key: data.get(key, value) for key, value in initial.items()} if initial else data
            if initial is not None:
                form.fields["_content"].initial = json.dumps(initial, indent=4, ensure_ascii=False)
        return form


@functools.cache
def _request_examples(urlconf: str | None) -> list[tuple[re.Pattern, str, dict]]:
    """(path pattern, method, example) of every operation of the schema that has a request example.
    Built once per process, on the first browsable page that has a form."""
    generator = spectacular_settings.DEFAULT_GENERATOR_CLASS(urlconf=urlconf)
    schema = generator.get_schema(request=None, public=True)
    found = []
    for template, operations in schema.get("paths", {}).items():
        pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template.rstrip("/")))
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            example = body.get("examples", {}).get("spec", {}).get("value")
            if example is not None:
                found.append((re.compile(f"^{pattern}/?$"), method.upper(), example))
    return found


def request_example_for(path: str, method: str, urlconf: str | None) -> dict | None:
    """The spec's request example of the operation `method path`, if it has one."""
    for pattern, example_method, example in _request_examples(urlconf):
        if example_method == method.upper() and pattern.match(path):
            return example
    return None


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, without the browsable page off the platform port."""

    def select_renderer(
        self, request: HttpRequest, renderers: list, format_suffix: str | None = None
    ) -> tuple[object, str]:
        if getattr(request, "surface", PLATFORM) is not PLATFORM:
            renderers = [renderer for renderer in renderers if renderer.format != BROWSABLE_FORMAT] or renderers
        return super().select_renderer(request, renderers, format_suffix)


def wants_browsable_page(request: HttpRequest | None) -> bool:
    """Whether DRF chose a page for people for `request`: the browsable API, or Swagger UI."""
    renderer = getattr(request, "accepted_renderer", None)
    if getattr(renderer, "format", None) == BROWSABLE_FORMAT:
        return True
    # Swagger UI renders only HTML: a page for a browser (that asks for HTML), not for machine clients.
    return getattr(renderer, "media_type", "") == "text/html" and "text/html" in request.headers.get("Accept", "")


def login_redirect(request: HttpRequest) -> HttpResponseRedirect | None:
    """The admin login, coming back to this page after it: for a browser that may not read the API
    yet (a keyed install, no staff session). None where the admin is not mounted."""
    try:
        login_url = reverse("admin:login")
    except NoReverseMatch:
        return None
    return redirect_to_login(request.get_full_path(), login_url=login_url)
