"""RevokeApiKey: the caller revokes one of their keys; every instance stops accepting it at once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.admin.audit import record_audit
from src.application.identity.access_state import UserAccessStates
from src.application.identity.api_keys import require_key_manager
from src.application.identity.ports import AuditedIdentityTransaction
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.admin.audit import AuditAction, AuditTarget
from src.domain.identity.errors import (
    ApiKeyNotFound,
)
from src.domain.identity.model import Principal


@dataclass(frozen=True, slots=True)
class RevokeApiKeyCommand:
    key_id: uuid.UUID


class RevokeApiKey:
    def __init__(
        self, uow: UnitOfWorkFactory[AuditedIdentityTransaction], clock: Clock, access_state: UserAccessStates
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._access_state = access_state

    async def __call__(self, principal: Principal, command: RevokeApiKeyCommand) -> None:
        require_key_manager(principal)
        async with self._uow() as tx:
            key = await tx.api_keys.get(command.key_id)
            if key is None or key.user_id != principal.user_id or key.revoked_at is not None:
                raise ApiKeyNotFound()
            now = self._clock.now()
            key.revoke(now)
            await tx.api_keys.save(key)
            await record_audit(
                tx,
                principal,
                AuditAction.API_KEY_REVOKED,
                AuditTarget.API_KEY,
                key.id,
                now=now,
                data={"name": key.name, "prefix": key.prefix, "owner_id": str(key.user_id)},
            )
        # After the commit: every instance stops accepting the key at once, and the owner's open sockets
        # check their credentials again (one opened with this key is closed).
        await self._access_state.forget_api_keys([key.key_hash])
        await self._access_state.forget(key.user_id)
