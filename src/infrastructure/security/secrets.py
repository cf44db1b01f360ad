"""Opaque secrets: refresh tokens and API keys, and the digests they are stored and looked up by."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from src.domain.identity.model import API_KEY_PREFIX

#: 32 random bytes: 256 bits, 43 URL-safe characters.
SECRET_BYTES = 32


class HmacSecretGenerator:
    """Implements ``SecretGenerator``. Digests are HMAC-SHA256 keyed with ``SECRET_KEY`` (hex): a
    leaked table of digests is useless without the key. Changing ``SECRET_KEY`` therefore ends
    every session and invalidates every API key."""

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("a secret key is required")
        self._key = secret_key.encode("utf-8")

    def refresh_token(self) -> str:
        return secrets.token_urlsafe(SECRET_BYTES)

    def api_key(self) -> str:
        return API_KEY_PREFIX + secrets.token_urlsafe(SECRET_BYTES)

    def digest(self, secret: str) -> str:
        return hmac.new(self._key, secret.encode("utf-8"), hashlib.sha256).hexdigest()
