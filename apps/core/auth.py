"""API keys over `Authorization: Bearer <key>` and `X-API-Key: <key>`, and who may use the API.

With no key configured (none in the environment, none active in the database) the API answers
loopback clients only, checked on every request (`loopback_only_refusal`): other addresses get
403 even when the last key was revoked while `serve` listens on 0.0.0.0, and `manage.py serve`
refuses to bind anything but loopback. With a key, every API path except the health routes needs
one. A staff user logged in to the admin may read and write the API with the session (the admin
console and Swagger UI need both); DRF's SessionAuthentication then requires the CSRF token on
every write, so another site cannot write through a logged-in browser.
"""

import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny, BasePermission

from apps.core.middleware import HybridMiddleware, error_response, resolved_view_class
from apps.core.models import ApiKey


@dataclass(frozen=True)
class ApiClient:
    """The authenticated caller of an API key (DRF's `request.user`)."""

    key_name: str
    is_authenticated: bool = True
    is_staff: bool = False


# The gateway's hot path must not hit the database on every request: key lookups are cached
# in-process for a few seconds. Changes made in this process clear the cache at once (signals
# in core.signals); other processes see them within CACHE_TTL_S.
CACHE_TTL_S = 5.0
LAST_USED_EVERY_S = 60.0
_cache: dict[str, tuple[object, float]] = {}


def _cached(key: str, compute: Callable[[], object]) -> object:
    hit = _cache.get(key)
    now = time.monotonic()
    if hit is not None and hit[1] > now:
        return hit[0]
    value = compute()
    _cache[key] = (value, now + CACHE_TTL_S)
    return value


def api_key_cache_clear() -> None:
    _cache.clear()


def api_keys_configured() -> bool:
    if settings.MODELYARD_ENV_API_KEYS:
        return True
    return bool(_cached("configured", lambda: ApiKey.objects.filter(is_active=True).exists()))


LOOPBACK_ONLY_MESSAGE = (
    "no API key is configured, so this server answers loopback clients only: create one with "
    "`manage.py apikey create --name NAME` or set MODELYARD_API_KEY"
)


def is_loopback(host: str) -> bool:
    """Whether `host` (an address, or `localhost`) is this machine: all of 127.0.0.0/8, ::1, and
    IPv4 loopback written as IPv6 (`::ffff:127.0.0.1`)."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def from_loopback(request: HttpRequest) -> bool:
    """Whether the request's client (REMOTE_ADDR, the ASGI scope's client) is this machine."""
    return is_loopback(request.META.get("REMOTE_ADDR") or "")


def loopback_only_refusal(request: HttpRequest) -> str | None:
    """Why `request` is refused, or None: a client that is not on loopback while no key is
    configured, on any route but the health routes (their views allow anyone). A request without
    a client address counts as remote."""
    if from_loopback(request):
        return None
    if api_keys_configured() or AllowAny in getattr(resolved_view_class(request), "permission_classes", ()):
        return None
    return LOOPBACK_ONLY_MESSAGE


class LoopbackOnlyMiddleware(HybridMiddleware):
    """No key configured ⇒ loopback clients only, checked on every request: revoking the last key
    while `serve` listens on 0.0.0.0 closes the server to other addresses (403 in the surface's
    error body) instead of opening it. Runs after SurfaceMiddleware (it needs the surface)."""

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._acall(request)
        refusal = loopback_only_refusal(request)
        return error_response(request, refusal, 403) if refusal else self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        # Loopback clients (nearly all) skip the thread hop that the key lookup needs.
        refusal = None if from_loopback(request) else await sync_to_async(loopback_only_refusal)(request)
        return error_response(request, refusal, 403) if refusal else await self.get_response(request)


def api_key_check(raw_key: str) -> str | None:
    """The name of the key `raw_key` is, or None. Marks database keys as used (once a minute)."""
    for env_key in settings.MODELYARD_ENV_API_KEYS:
        if hmac.compare_digest(raw_key.encode(), env_key.encode()):
            return "environment"
    key_hash = ApiKey.hash_key(raw_key)
    found = _cached(f"key:{key_hash}", lambda: ApiKey.objects.filter(key_hash=key_hash, is_active=True).first())
    if found is None:
        return None
    if found.last_used_at is None or (timezone.now() - found.last_used_at).total_seconds() > LAST_USED_EVERY_S:
        found.last_used_at = timezone.now()
        ApiKey.objects.filter(pk=found.pk).update(last_used_at=found.last_used_at)
    return found.name


def presented_keys(request: HttpRequest) -> list[str]:
    """The keys a request carries: `Authorization: Bearer <key>`, then `X-API-Key: <key>`."""
    authorization = request.headers.get("Authorization", "")
    scheme, _, token = authorization.partition(" ")
    keys = [token.strip()] if scheme.lower() == "bearer" and token.strip() else []
    return keys + ([request.headers["X-API-Key"]] if request.headers.get("X-API-Key") else [])


class ApiKeyAuthentication(BaseAuthentication):
    """Either header authenticates: a request is the key's client when one of the keys it carries
    is valid, whichever header carries it (a proxy's own `Authorization` does not shadow an `X-API-Key`)."""

    def authenticate(self, request: HttpRequest) -> tuple[ApiClient, str] | None:
        raw_keys = presented_keys(request)
        if not raw_keys:
            return None
        name = next((name for name in map(api_key_check, raw_keys) if name is not None), None)
        if name is None:
            if not api_keys_configured():
                return None  # an open API ignores whatever key a client sends
            raise AuthenticationFailed("Invalid or missing API key")
        return ApiClient(key_name=name), name

    def authenticate_header(self, request: HttpRequest) -> str:
        # Makes DRF answer 401 (not 403) when no credentials were sent.
        return 'Bearer realm="modelyard"'


class HasApiKey(BasePermission):
    """Open when no key is configured (to loopback clients: the middleware refuses the others);
    else a valid key or a staff session."""

    message = "Invalid or missing API key"

    def has_permission(self, request: HttpRequest, view: object) -> bool:
        if isinstance(request.user, ApiClient):
            return True
        if getattr(request.user, "is_staff", False):
            return True
        return not api_keys_configured()
