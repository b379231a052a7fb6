"""Public Python API of core: API keys. Jobs live in `core.jobs`."""

import secrets

from django.db import transaction

from apps.core.auth import api_keys_configured
from apps.core.errors import Conflict, NotFound
from apps.core.models import ApiKey

KEY_PREFIX = "my_"


@transaction.atomic
def api_key_create(*, name: str) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the key itself, which is never shown again."""
    existing = ApiKey.objects.filter(name=name).first()
    if existing is not None and not existing.is_active:
        raise Conflict(
            f"API key {name!r} exists and is revoked; delete it first (`manage.py apikey delete --name {name}`) "
            "or choose another name"
        )
    if existing is not None:
        raise Conflict(f"API key {name!r} already exists")
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(name=name, prefix=raw_key[:10], key_hash=ApiKey.hash_key(raw_key))
    return key, raw_key


def api_key_revoke(*, name: str) -> ApiKey:
    """Revoke the key `name`; see `api_keys_left_warning` for what revoking the last one means."""
    key = ApiKey.objects.filter(name=name).first()
    if key is None:
        raise NotFound(f"API key {name!r} not found")
    if not key.is_active:
        raise Conflict(f"API key {name!r} is already revoked")
    key.is_active = False
    key.save(update_fields=["is_active"])
    return key


@transaction.atomic
def api_key_delete(*, name: str) -> None:
    """Delete the key `name` for good, so that its name can be used again. Only a revoked key can be
    deleted: revoke first, which warns when it is the last key."""
    key = ApiKey.objects.filter(name=name).first()
    if key is None:
        raise NotFound(f"API key {name!r} not found")
    if key.is_active:
        raise Conflict(f"API key {name!r} is active; revoke it first (`manage.py apikey revoke --name {name}`)")
    key.delete()


def api_keys_left_warning() -> str | None:
    """The warning to show after a revoke when no key is left, else None."""
    if api_keys_configured():
        return None
    return (
        "That was the last API key: the API now answers loopback clients only; requests from any other "
        "address get 403 until a key is created (`manage.py apikey create --name NAME`) or MODELYARD_API_KEY is set."
    )
