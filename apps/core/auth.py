"""API keys over `Authorization: Bearer <key>` and `X-API-Key: <key>`.

With no key configured (none in the environment, none active in the database) the API is open;
`manage.py serve` then refuses to bind anything but loopback. With a key, every API path except
the health routes needs one; a staff user logged in to the admin may also read the API.
"""

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

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


def presented_key(request: HttpRequest) -> str | None:
    authorization = request.headers.get("Authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("X-API-Key") or None


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: HttpRequest) -> tuple[ApiClient, str] | None:
        raw_key = presented_key(request)
        if raw_key is None:
            return None
        name = api_key_check(raw_key)
        if name is None:
            if not api_keys_configured():
                return None  # an open API ignores whatever key a client sends
            raise AuthenticationFailed("Invalid or missing API key")
        return ApiClient(key_name=name), name

    def authenticate_header(self, request: HttpRequest) -> str:
        # Makes DRF answer 401 (not 403) when no credentials were sent.
        return 'Bearer realm="modelyard"'


class HasApiKey(BasePermission):
    """Open when no key is configured; else a valid key or a staff session."""

    message = "Invalid or missing API key"

    def has_permission(self, request: HttpRequest, view: object) -> bool:
        if isinstance(request.user, ApiClient):
            return True
        if getattr(request.user, "is_staff", False):
            return True
        return not api_keys_configured()
