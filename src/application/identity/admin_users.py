"""What the account-management use cases share (``list_users``, ``get_user``, ``update_user``,
``reset_password``): what an admin, or the CLI as ``Principal.system()``, does to accounts requires
``users:manage``."""

from __future__ import annotations

from src.domain.identity.errors import Forbidden
from src.domain.identity.model import Permission, Principal

MAX_PAGE_SIZE = 100
MAX_QUERY_LENGTH = 200


def require_manager(principal: Principal) -> None:
    if not principal.can(Permission.USERS_MANAGE):
        raise Forbidden()
