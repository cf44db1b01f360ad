"""Wiring of the ``identity`` context: accounts, sessions, API keys, and the credentials adapters.

``build_identity`` takes ports only, so the unit tests build their world through it with fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from src.application.identity.access_state import UserAccessStates
from src.application.identity.authenticate import Authenticate
from src.application.identity.change_password import ChangePassword
from src.application.identity.create_api_key import CreateApiKey
from src.application.identity.deactivate_account import DeactivateAccount
from src.application.identity.get_profile import GetProfile
from src.application.identity.get_user import GetUser
from src.application.identity.list_api_keys import ListApiKeys
from src.application.identity.list_users import ListUsers
from src.application.identity.ports import (
    AccessTokenIssuer,
    CommonPasswords,
    IdentityTransaction,
    PasswordHasher,
    SecretGenerator,
)
from src.application.identity.refresh_session import RefreshSession
from src.application.identity.register_user import RegisterUser
from src.application.identity.reset_password import ResetPassword
from src.application.identity.revoke_api_key import RevokeApiKey
from src.application.identity.sign_in import SignIn
from src.application.identity.sign_out import SignOut
from src.application.identity.sign_out_everywhere import SignOutEverywhere
from src.application.identity.update_profile import UpdateProfile
from src.application.identity.update_user import UpdateUser
from src.application.shared.ports import Clock, RateLimiter
from src.application.shared.prune_expired import ExpiringRecordsOf
from src.application.unit_of_work import AppUnitOfWorkFactory
from src.domain.identity.model import Role
from src.domain.shared.rate_limit import RateLimitPolicy
from src.infrastructure.security.common_passwords import CommonPasswordList
from src.infrastructure.security.passwords import Argon2PasswordHasher
from src.infrastructure.security.secrets import HmacSecretGenerator
from src.infrastructure.security.tokens import JwtAccessTokenIssuer
from src.infrastructure.settings import Settings


@dataclass(frozen=True, slots=True)
class Credentials:
    """How passwords are hashed and checked, and how tokens and secrets are made."""

    password_hasher: PasswordHasher
    access_tokens: AccessTokenIssuer
    secrets: SecretGenerator
    common_passwords: CommonPasswords


@dataclass(frozen=True, slots=True)
class IdentityUseCases:
    register_user: RegisterUser
    sign_in: SignIn
    refresh_session: RefreshSession
    sign_out: SignOut
    sign_out_everywhere: SignOutEverywhere
    authenticate: Authenticate
    get_profile: GetProfile
    update_profile: UpdateProfile
    change_password: ChangePassword
    deactivate_account: DeactivateAccount
    list_users: ListUsers
    get_user: GetUser
    update_user: UpdateUser
    reset_password: ResetPassword
    create_api_key: CreateApiKey
    list_api_keys: ListApiKeys
    revoke_api_key: RevokeApiKey


def build_credentials(settings: Settings) -> Credentials:
    return Credentials(
        password_hasher=Argon2PasswordHasher(),
        access_tokens=JwtAccessTokenIssuer(
            settings.identity.secret_key,
            issuer=settings.identity.jwt_issuer,
            audience=settings.identity.jwt_audience,
            ttl=timedelta(seconds=settings.identity.access_token_ttl_seconds),
        ),
        secrets=HmacSecretGenerator(settings.identity.secret_key),
        common_passwords=CommonPasswordList(),
    )


def identity_expiring_records() -> dict[str, ExpiringRecordsOf[IdentityTransaction]]:
    """What of identity the prune job deletes: a refresh token past its expiry can never be exchanged
    again, used or not."""
    return {"refresh_tokens": lambda tx: tx.refresh_tokens}


def build_identity(
    *,
    uow: AppUnitOfWorkFactory,
    clock: Clock,
    credentials: Credentials,
    access_states: UserAccessStates,
    rate_limiter: RateLimiter,
    login_policy: RateLimitPolicy,
    refresh_ttl: timedelta,
    default_role: Role = Role.CREATOR,
) -> IdentityUseCases:
    """``login_policy`` limits sign-in attempts (through ``rate_limiter``); ``refresh_ttl`` is a
    refresh token's life; ``default_role`` is a new account's role."""
    hasher, tokens, secrets = credentials.password_hasher, credentials.access_tokens, credentials.secrets
    common, access = credentials.common_passwords, access_states
    return IdentityUseCases(
        register_user=RegisterUser(uow, hasher, clock, common, default_role=default_role),
        sign_in=SignIn(uow, hasher, tokens, secrets, clock, rate_limiter, login_policy, refresh_ttl),
        refresh_session=RefreshSession(uow, tokens, secrets, clock, refresh_ttl, access),
        sign_out=SignOut(uow, secrets, clock, access),
        sign_out_everywhere=SignOutEverywhere(uow, clock, access),
        authenticate=Authenticate(uow, tokens, secrets, clock, access),
        get_profile=GetProfile(uow),
        update_profile=UpdateProfile(uow, clock),
        change_password=ChangePassword(uow, hasher, clock, common, access),
        deactivate_account=DeactivateAccount(uow, clock, access),
        list_users=ListUsers(uow),
        get_user=GetUser(uow),
        update_user=UpdateUser(uow, clock, access),
        reset_password=ResetPassword(uow, hasher, clock, common, access),
        create_api_key=CreateApiKey(uow, secrets, clock),
        list_api_keys=ListApiKeys(uow),
        revoke_api_key=RevokeApiKey(uow, clock, access),
    )
