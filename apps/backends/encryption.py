"""Provider API keys at rest: Fernet-encrypted, shown only masked."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from apps.core.errors import Unavailable


def _fernet() -> Fernet:
    secret = settings.MODELYARD_PROVIDER_KEY or settings.SECRET_KEY
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise Unavailable(
            "a stored provider API key cannot be decrypted: the secret key (MODELYARD_PROVIDER_KEY or "
            "MODELYARD_SECRET_KEY) changed since it was saved; set the key again"
        ) from None


def mask(plain: str) -> str:
    """`sk-…wxyz`: enough to recognise a key, never enough to use it."""
    if len(plain) <= 8:
        return "*" * len(plain)
    return f"{plain[:3]}…{plain[-4:]}"
