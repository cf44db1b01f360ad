"""Signed one-click unsubscribe links (RFC 8058): ``<PUBLIC_URL>/api/v1/notifications/unsubscribe?token=...``.

The token is ``<user id>.<category>.<HMAC-SHA256>``, keyed by a key derived from ``SECRET_KEY``: it
cannot be forged or moved to another user or category, and it does not expire (a mail may be read
months later).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from urllib.parse import quote

from src.domain.notifications.errors import InvalidUnsubscribeLink
from src.domain.notifications.model import Category

UNSUBSCRIBE_PATH = "/api/v1/notifications/unsubscribe"


class HmacUnsubscribeLinks:
    def __init__(self, secret_key: str, public_url: str) -> None:
        self._key = hashlib.sha256(b"parley-unsubscribe:" + secret_key.encode()).digest()
        self._base = public_url.rstrip("/")

    def token(self, user_id: uuid.UUID, category: Category) -> str:
        return f"{user_id}.{category.value}.{self._sign(user_id, category)}"

    def link(self, user_id: uuid.UUID, category: Category) -> str:
        return f"{self._base}{UNSUBSCRIBE_PATH}?token={quote(self.token(user_id, category))}"

    def verify(self, token: str) -> tuple[uuid.UUID, Category]:
        try:
            user_text, category_text, signature = token.split(".")
            user_id, category = uuid.UUID(user_text), Category(category_text)
        except ValueError:
            raise InvalidUnsubscribeLink("this unsubscribe link is malformed") from None
        if not hmac.compare_digest(signature, self._sign(user_id, category)):
            raise InvalidUnsubscribeLink("this unsubscribe link's signature does not match")
        return user_id, category

    def _sign(self, user_id: uuid.UUID, category: Category) -> str:
        digest = hmac.new(self._key, f"{user_id}:{category.value}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
