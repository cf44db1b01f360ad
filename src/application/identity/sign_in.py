"""SignIn: email and password in, a token pair out (the OAuth2 password grant).

Unknown email and wrong password give the same answer after the same work (a dummy hash check).
Only FAILED attempts count against the ``login`` policy, per (client address, email): a user who
signs in often is never throttled, a guesser is stopped after a few tries, and once the allowance is
spent even the right password is refused until it refills, so guessing cannot go on behind 429s.
The failure that spends the allowance is recorded in the audit log (once per spent allowance, not
once per refused attempt: an attacker cannot fill the log faster than the allowance refills).
"""

from __future__ import annotations

from datetime import timedelta

from src.application.admin.audit import record_audit
from src.application.identity.ports import (
    AccessTokenIssuer,
    AuditedIdentityTransaction,
    PasswordHasher,
    SecretGenerator,
)
from src.application.identity.views import SignInCommand, TokenPair
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, RateLimiter, UnitOfWorkFactory
from src.domain.admin.audit import AuditAction, AuditActor, AuditTarget
from src.domain.identity.errors import InvalidCredentials, InvalidEmail, SignInThrottled
from src.domain.identity.model import MAX_EMAIL_LENGTH, RefreshToken, User, normalise_email
from src.domain.shared.rate_limit import RateDecision, RateLimitPolicy

__all__ = ["SignIn", "SignInCommand"]


class SignIn:
    def __init__(
        self,
        uow: UnitOfWorkFactory[AuditedIdentityTransaction],
        hasher: PasswordHasher,
        tokens: AccessTokenIssuer,
        secrets: SecretGenerator,
        clock: Clock,
        limiter: RateLimiter,
        policy: RateLimitPolicy,
        refresh_ttl: timedelta,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._tokens = tokens
        self._secrets = secrets
        self._clock = clock
        self._limiter = limiter
        self._policy = policy
        self._refresh_ttl = refresh_ttl

    async def __call__(self, command: SignInCommand) -> TokenPair:
        try:
            email = normalise_email(command.email)
        except InvalidEmail:
            email = None
        throttle_key = f"login:{command.client_ip}:{email or command.email.strip().lower()}"
        _raise_if_throttled(await self._limiter.peek(throttle_key, self._policy.limit, self._policy.window_seconds))

        async with self._uow(read_only=True) as tx:
            user = await tx.users.get_by_email(email) if email is not None else None
        # The slow hash runs outside any transaction.
        if user is None:
            await self._hasher.verify_dummy(command.password)
            matches, new_hash = False, None
        else:
            matches, new_hash = await self._hasher.verify(command.password, user.password_hash)
        if not matches:
            decision = await self._limiter.hit(throttle_key, self._policy.limit, self._policy.window_seconds)
            if not decision.allowed or decision.remaining == 0:
                await self._audit_throttling(command, email, user)
            _raise_if_throttled(decision)
            raise InvalidCredentials()
        assert user is not None
        user.ensure_active()  # only after the right password: the account's state is not public
        return await self._start_session(user, verified_hash=user.password_hash, new_hash=new_hash)

    async def _audit_throttling(self, command: SignInCommand, email: str | None, user: User | None) -> None:
        now = self._clock.now()
        async with self._uow() as tx:
            await record_audit(
                tx,
                AuditActor(user_id=None, ip=command.client_ip, via="anonymous"),
                AuditAction.SIGN_IN_THROTTLED,
                AuditTarget.USER,
                user.id if user is not None else None,
                now=now,
                data={"email": (email or command.email.strip().lower())[:MAX_EMAIL_LENGTH]},
            )

    async def _start_session(self, user: User, *, verified_hash: str, new_hash: str | None) -> TokenPair:
        now = self._clock.now()
        refresh_token = self._secrets.refresh_token()
        async with self._uow() as tx:
            current = await tx.users.get(user.id)
            # The password or the account may have changed while the hash was being checked.
            if current is None or current.password_hash != verified_hash:
                raise InvalidCredentials()
            current.ensure_active()
            if new_hash is not None:
                current.rehash(new_hash, now=now)
                await tx.users.save(current)
            family_id = new_id(now)
            await tx.refresh_tokens.add(
                RefreshToken.start_family(
                    user_id=current.id,
                    token_hash=self._secrets.digest(refresh_token),
                    now=now,
                    lifetime=self._refresh_ttl,
                    id=new_id(now),
                    family_id=family_id,
                )
            )
        access = self._tokens.issue(current, now=now, session_id=family_id)
        return TokenPair(access_token=access.token, expires_in=access.expires_in, refresh_token=refresh_token)


def _raise_if_throttled(decision: RateDecision) -> None:
    if not decision.allowed:
        raise SignInThrottled(
            f"too many failed sign-in attempts; try again in {decision.retry_after_header} s",
            extra={"retry_after": decision.retry_after_header},
        )
