"""CreateApiKey: a new API key for the caller; its secret is shown once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from src.application.admin.audit import record_audit
from src.application.identity.api_keys import (
    MAX_ACTIVE_API_KEYS,
    MAX_API_KEY_DAYS,
    MAX_API_KEY_NAME_LENGTH,
    VISIBLE_PREFIX_LENGTH,
    require_key_manager,
)
from src.application.identity.ports import AuditedIdentityTransaction, SecretGenerator
from src.application.identity.views import ApiKeyView, CreatedApiKey
from src.application.shared.events import record_event
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.admin.audit import AuditAction, AuditTarget
from src.domain.identity.errors import (
    InvalidApiKeyExpiry,
    InvalidApiKeyName,
    TooManyApiKeys,
)
from src.domain.identity.events import ApiKeyCreated
from src.domain.identity.model import ApiKey, Principal


@dataclass(frozen=True, slots=True)
class CreateApiKeyCommand:
    name: str
    expires_in_days: int | None = None


class CreateApiKey:
    def __init__(
        self, uow: UnitOfWorkFactory[AuditedIdentityTransaction], secrets: SecretGenerator, clock: Clock
    ) -> None:
        self._uow = uow
        self._secrets = secrets
        self._clock = clock

    async def __call__(self, principal: Principal, command: CreateApiKeyCommand) -> CreatedApiKey:
        require_key_manager(principal)
        cleaned = " ".join(command.name.split())
        if not 1 <= len(cleaned) <= MAX_API_KEY_NAME_LENGTH:
            raise InvalidApiKeyName(f"name must be 1-{MAX_API_KEY_NAME_LENGTH} characters")
        if command.expires_in_days is not None and not 1 <= command.expires_in_days <= MAX_API_KEY_DAYS:
            raise InvalidApiKeyExpiry(f"expires_in_days must be between 1 and {MAX_API_KEY_DAYS}")
        now = self._clock.now()
        secret = self._secrets.api_key()
        key = ApiKey(
            id=new_id(now),
            user_id=principal.user_id,
            name=cleaned,
            prefix=secret[:VISIBLE_PREFIX_LENGTH],
            key_hash=self._secrets.digest(secret),
            created_at=now,
            expires_at=now + timedelta(days=command.expires_in_days) if command.expires_in_days is not None else None,
        )
        async with self._uow() as tx:
            active = [k for k in await tx.api_keys.list_for_user(principal.user_id) if k.is_usable(now)]
            if len(active) >= MAX_ACTIVE_API_KEYS:
                raise TooManyApiKeys(f"at most {MAX_ACTIVE_API_KEYS} active keys; revoke one first")
            await tx.api_keys.add(key)
            await record_event(
                tx,
                ApiKeyCreated(
                    event_id=new_id(now),
                    occurred_at=now,
                    user_id=key.user_id,
                    key_id=key.id,
                    name=key.name,
                    prefix=key.prefix,
                ),
            )
            await record_audit(
                tx,
                principal,
                AuditAction.API_KEY_CREATED,
                AuditTarget.API_KEY,
                key.id,
                now=now,
                data={"name": key.name, "prefix": key.prefix, "owner_id": str(key.user_id)},
            )
        return CreatedApiKey(key=ApiKeyView.of(key), secret=secret)
