"""Provider API keys in the clear, for the code that calls backends (routing, sync).

A module of its own, below services, routing and sync, so that each of them can import it.
"""

from apps.backends import encryption
from apps.backends.models import ProviderConfig


def provider_api_key(*, type: str) -> str:
    """The clear API key for backends of `type`, or "" when none is configured."""
    config = ProviderConfig.objects.filter(type=type).first()
    return encryption.decrypt(config.api_key_encrypted) if config else ""
