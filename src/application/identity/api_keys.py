"""API keys for programs: create (the secret is shown once), list one's own, revoke.

A key belongs to one user and acts as that user. Another user's key does not exist as far as the
caller can tell: revoking it answers ``api_key_not_found``, never ``forbidden``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from src.application.admin.audit import record_audit
from src.application.identity.access_state import UserAccessStates
from src.application.identity.ports import AuditedIdentityTransaction, SecretGenerator
from src.application.identity.views import ApiKeyView, CreatedApiKey
from src.application.shared.events import record_event
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.admin.audit import AuditAction, AuditTarget
from src.domain.identity.errors import (
    ApiKeyNotFound,
    Forbidden,
    InvalidApiKeyExpiry,
    InvalidApiKeyName,
    TooManyApiKeys,
)
from src.domain.identity.events import ApiKeyCreated
from src.domain.identity.model import API_KEY_PREFIX, ApiKey, Permission, Principal

MAX_API_KEY_NAME_LENGTH = 100
MAX_API_KEY_DAYS = 3650
MAX_ACTIVE_API_KEYS = 25
#: ``pk_`` and the next 8 characters are shown in lists.
VISIBLE_PREFIX_LENGTH = len(API_KEY_PREFIX) + 8


def _require_key_manager(principal: Principal) -> None:
    if not principal.can(Permission.API_KEYS_MANAGE):
        raise Forbidden()


class CreateApiKey:
    def __init__(
        self, uow: UnitOfWorkFactory[AuditedIdentityTransaction], secrets: SecretGenerator, clock: Clock
    ) -> None:
        self._uow = uow
        self._secrets = secrets
        self._clock = clock

    async def __call__(self, principal: Principal, name: str, expires_in_days: int | None = None) -> CreatedApiKey:
        _require_key_manager(principal)
        cleaned = " ".join(name.split())
        if not 1 <= len(cleaned) <= MAX_API_KEY_NAME_LENGTH:
            raise InvalidApiKeyName(f"name must be 1-{MAX_API_KEY_NAME_LENGTH} characters")
        if expires_in_days is not None and not 1 <= expires_in_days <= MAX_API_KEY_DAYS:
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
            expires_at=now + timedelta(days=expires_in_days) if expires_in_days is not None else None,
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


class ListApiKeys:
    def __init__(self, uow: UnitOfWorkFactory[AuditedIdentityTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal) -> list[ApiKeyView]:
        """The caller's keys that are not revoked (expired ones too: their expiry says why they fail)."""
        _require_key_manager(principal)
        async with self._uow(read_only=True) as tx:
            keys = await tx.api_keys.list_for_user(principal.user_id)
        return [ApiKeyView.of(k) for k in keys if k.revoked_at is None]


class RevokeApiKey:
    def __init__(
        self, uow: UnitOfWorkFactory[AuditedIdentityTransaction], clock: Clock, access_state: UserAccessStates
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._access_state = access_state

    async def __call__(self, principal: Principal, key_id: uuid.UUID) -> None:
        _require_key_manager(principal)
        async with self._uow() as tx:
            key = await tx.api_keys.get(key_id)
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
