"""RefreshSession: a refresh token in, a new token pair out (the OAuth2 refresh_token grant).

Each use rotates the token. A rotated token that comes back was copied: the whole family (the
session it belongs to) is revoked and committed before the error is raised, so the thief's copy
and the victim's current token both stop working and the user signs in again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from src.application.admin.audit import record_audit
from src.application.identity.access_state import UserAccessStates
from src.application.identity.ports import AccessTokenIssuer, AuditedIdentityTransaction, SecretGenerator
from src.application.identity.views import TokenPair
from src.application.shared.events import record_event
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.admin.audit import AuditAction, AuditActor, AuditTarget
from src.domain.identity.errors import AccountInactive, InvalidToken, RefreshTokenReused
from src.domain.identity.events import RefreshTokenReuseDetected
from src.domain.identity.model import User


@dataclass(frozen=True, slots=True)
class RefreshSessionCommand:
    refresh_token: str
    client_ip: str | None = None


class RefreshSession:
    def __init__(
        self,
        uow: UnitOfWorkFactory[AuditedIdentityTransaction],
        tokens: AccessTokenIssuer,
        secrets: SecretGenerator,
        clock: Clock,
        refresh_ttl: timedelta,
        access_state: UserAccessStates | None = None,
    ) -> None:
        self._uow = uow
        self._tokens = tokens
        self._secrets = secrets
        self._clock = clock
        self._refresh_ttl = refresh_ttl
        self._access_state = access_state

    async def __call__(self, command: RefreshSessionCommand) -> TokenPair:
        """``client_ip``: where the request came from, recorded in the audit log when the token was reused."""
        now = self._clock.now()
        successor_secret = self._secrets.refresh_token()
        reuse: RefreshTokenReused | None = None
        user: User | None = None
        async with self._uow() as tx:
            token = await tx.refresh_tokens.get_by_hash(self._secrets.digest(command.refresh_token))
            if token is None:
                raise InvalidToken()
            try:
                successor = token.rotate(
                    successor_hash=self._secrets.digest(successor_secret),
                    successor_id=new_id(now),
                    now=now,
                    lifetime=self._refresh_ttl,
                )
            except RefreshTokenReused as error:
                await tx.refresh_tokens.revoke_family(token.family_id, now)
                await record_event(
                    tx,
                    RefreshTokenReuseDetected(
                        event_id=new_id(now), occurred_at=now, user_id=token.user_id, family_id=token.family_id
                    ),
                )
                # Whoever presented it is not known to be the user: no actor, the address only.
                await record_audit(
                    tx,
                    AuditActor(user_id=None, ip=command.client_ip, via="anonymous"),
                    AuditAction.REFRESH_TOKEN_REUSED,
                    AuditTarget.SESSION,
                    token.family_id,
                    now=now,
                    data={"user_id": str(token.user_id)},
                )
                reuse = RefreshTokenReused(extra={"user_id": str(token.user_id), "family_id": str(token.family_id)})
                reuse.__cause__ = error
            else:
                user = await tx.users.get(token.user_id)
                if user is None or not user.is_active:
                    raise AccountInactive()
                await tx.refresh_tokens.save(token)
                await tx.refresh_tokens.add(successor)
        # Raised only now: the revocation above is committed first.
        if reuse is not None:
            # The stolen session's access tokens end too, on every instance.
            if self._access_state is not None:
                await self._access_state.forget(token.user_id)
            raise reuse
        assert user is not None
        access = self._tokens.issue(user, now=now, session_id=successor.family_id)
        return TokenPair(access_token=access.token, expires_in=access.expires_in, refresh_token=successor_secret)
