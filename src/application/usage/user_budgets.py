"""What ``get_user_budget`` and ``set_user_budget`` share: an admin gives one user a monthly budget of
their own (or takes it away: the tier's applies again). Both require ``users:manage``."""

from __future__ import annotations

from typing import Protocol

from src.application.admin.ports import AuditTransaction
from src.application.identity.ports import IdentityTransaction
from src.application.usage.ports import UsageTransaction
from src.domain.identity.errors import Forbidden
from src.domain.identity.model import Permission, Principal


class UserBudgetTransaction(UsageTransaction, IdentityTransaction, AuditTransaction, Protocol):
    """Usage's repositories, the user whose budget it is, and the audit log."""


def require_manager(principal: Principal) -> None:
    if not principal.can(Permission.USERS_MANAGE):
        raise Forbidden()
