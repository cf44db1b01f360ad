"""API keys for programs: create (the secret is shown once), list one's own, revoke.

A key belongs to one user and acts as that user. Another user's key does not exist as far as the
caller can tell: revoking it answers ``api_key_not_found``, never ``forbidden``.
"""

from __future__ import annotations

from src.domain.identity.errors import (
    Forbidden,
)
from src.domain.identity.model import API_KEY_PREFIX, Permission, Principal

MAX_API_KEY_NAME_LENGTH = 100
MAX_API_KEY_DAYS = 3650
MAX_ACTIVE_API_KEYS = 25
#: ``pk_`` and the next 8 characters are shown in lists.
VISIBLE_PREFIX_LENGTH = len(API_KEY_PREFIX) + 8


def require_key_manager(principal: Principal) -> None:
    if not principal.can(Permission.API_KEYS_MANAGE):
        raise Forbidden()
