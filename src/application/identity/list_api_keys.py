"""ListApiKeys: the caller's keys that are not revoked."""

from __future__ import annotations

from src.application.identity.api_keys import require_key_manager
from src.application.identity.ports import AuditedIdentityTransaction
from src.application.identity.views import ApiKeyView
from src.application.shared.ports import UnitOfWorkFactory
from src.domain.identity.model import Principal


class ListApiKeys:
    def __init__(self, uow: UnitOfWorkFactory[AuditedIdentityTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal) -> list[ApiKeyView]:
        """The caller's keys that are not revoked (expired ones too: their expiry says why they fail)."""
        require_key_manager(principal)
        async with self._uow(read_only=True) as tx:
            keys = await tx.api_keys.list_for_user(principal.user_id)
        return [ApiKeyView.of(k) for k in keys if k.revoked_at is None]
