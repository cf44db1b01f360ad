"""Authenticate: the bearer credential of a request in, the ``Principal`` out.

``pk_...`` is an API key (looked up by digest); anything else must be a valid access token. The key
and the account's state (active, token version, role, tier) come from ``UserAccessStates``, cached,
so a request reads no database while a revocation, a deactivation or sign-out-everywhere still ends
it on the next request. The role and tier are the current ones, not those the token was issued with.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from src.application.identity.access_state import UserAccessStates
from src.application.identity.ports import AccessTokenIssuer, IdentityTransaction, SecretGenerator, UserAccessState
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.errors import AccountInactive, InvalidToken, SessionRevoked
from src.domain.identity.model import API_KEY_PREFIX, ApiKey, Principal, permissions_of

#: ``last_used_at`` is a hint for people reviewing their keys; writing it on every request is waste.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_TOUCHED_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class AuthenticateCommand:
    bearer: str
    allow_expired: bool = False


class Authenticate:
    def __init__(
        self,
        uow: UnitOfWorkFactory[IdentityTransaction],
        tokens: AccessTokenIssuer,
        secrets: SecretGenerator,
        clock: Clock,
        access_state: UserAccessStates,
    ) -> None:
        self._uow = uow
        self._tokens = tokens
        self._secrets = secrets
        self._clock = clock
        self._access_state = access_state
        #: When this process last wrote each key's ``last_used_at``: concurrent requests with a key whose
        #: stored time is stale would all write it, queueing on its row lock.
        self._touched: dict[uuid.UUID, datetime] = {}

    async def __call__(self, command: AuthenticateCommand) -> Principal:
        """``allow_expired``: an access token past its lifetime still answers who it was for, as long
        as its account and session hold (an open WebSocket checking itself after a change)."""
        bearer = command.bearer.strip()
        if not bearer:
            raise InvalidToken()
        if bearer.startswith(API_KEY_PREFIX):
            return await self._by_api_key(bearer)
        claims = self._tokens.verify(bearer, now=self._clock.now(), allow_expired=command.allow_expired)
        state = await self._usable_state(claims.user_id)
        if claims.token_version != state.token_version:
            raise InvalidToken("this token was signed out")
        if claims.session_id is not None and str(claims.session_id) in state.ended_sessions:
            raise SessionRevoked("this session was signed out")
        return _principal(claims.user_id, state, via="access_token", session_id=claims.session_id)

    async def _by_api_key(self, secret: str) -> Principal:
        now = self._clock.now()
        # Through the access states' cache: an API-key request reads no database (revocations drop it).
        key = await self._access_state.api_key(self._secrets.digest(secret))
        if key is None or not key.is_usable(now):
            raise InvalidToken()
        state = await self._usable_state(key.user_id)
        if (key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION) and self._first_toucher(
            key.id, now
        ):
            await self._touch(key, now)
        return _principal(key.user_id, state, via="api_key", api_key_id=key.id)

    async def _usable_state(self, user_id: uuid.UUID) -> UserAccessState:
        state = await self._access_state.get(user_id)
        if state is None:
            raise InvalidToken()
        if not state.is_active:
            raise AccountInactive()
        return state

    def _first_toucher(self, key_id: uuid.UUID, now: datetime) -> bool:
        """Whether this request writes ``last_used_at`` (no other one of this process did lately)."""
        last = self._touched.get(key_id)
        if last is not None and now - last < LAST_USED_RESOLUTION:
            return False
        if len(self._touched) >= MAX_TOUCHED_KEYS:
            self._touched.clear()
        self._touched[key_id] = now
        return True

    async def _touch(self, key: ApiKey, now: datetime) -> None:
        # A separate short write, about once a minute per key, so the lookup itself stays read-only.
        async with self._uow() as tx:
            current = await tx.api_keys.get(key.id)
            if current is not None:
                current.last_used_at = now
                await tx.api_keys.save(current)


def _principal(
    user_id: uuid.UUID,
    state: UserAccessState,
    *,
    via: str,
    api_key_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
) -> Principal:
    return Principal(
        user_id=user_id,
        email=state.email,
        role=state.role,
        tier=state.tier,
        permissions=permissions_of(state.role),
        via=via,
        api_key_id=api_key_id,
        session_id=session_id,
    )
