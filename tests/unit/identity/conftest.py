"""One identity "world" per test: every use case, wired by the container's own builder
(``build_identity``) over the in-memory fakes and one fake clock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from src.application.identity.access_state import UserAccessStates
from src.application.identity.authenticate import AuthenticateCommand
from src.application.identity.views import RegisterUserCommand, SignInCommand, TokenPair, UserView
from src.domain.identity.model import Principal, Role, Tier
from src.domain.shared.rate_limit import RateLimitPolicy
from src.infrastructure.rate_limit.memory_limiter import MemoryRateLimiter
from src.infrastructure.wiring.identity import Credentials, build_identity
from tests.fakes.cache import FakeCache
from tests.fakes.identity import FakeAccessTokenIssuer, FakeCommonPasswords, FakePasswordHasher, FakeSecretGenerator
from tests.fakes.shared import FakeClock, FakeUnitOfWorkFactory

PASSWORD = "correct horse battery"
CLIENT_IP = "203.0.113.7"
LOGIN_POLICY = RateLimitPolicy("login", limit=5, window_seconds=15 * 60)
REFRESH_TTL = timedelta(days=30)


@dataclass
class RecordedAccessChanges:
    """``AccessChanges`` that remembers whose access changed, in order."""

    users: list[uuid.UUID]

    async def access_changed(self, user_id: uuid.UUID) -> None:
        self.users.append(user_id)


@dataclass
class World:
    clock: FakeClock = field(default_factory=FakeClock)
    hasher: FakePasswordHasher = field(default_factory=FakePasswordHasher)
    tokens: FakeAccessTokenIssuer = field(default_factory=FakeAccessTokenIssuer)
    secrets: FakeSecretGenerator = field(default_factory=FakeSecretGenerator)
    common: FakeCommonPasswords = field(default_factory=lambda: FakeCommonPasswords("password123", "qwertyuiop"))
    cache: FakeCache = field(default_factory=FakeCache)

    def __post_init__(self) -> None:
        self.uow = FakeUnitOfWorkFactory(clock=self.clock)
        self.db = self.uow.database
        self.limiter = MemoryRateLimiter(clock=self.clock.monotonic)
        self.access_changes: list[uuid.UUID] = []
        self.access = UserAccessStates(
            self.uow,
            self.cache,
            clock=self.clock,
            ended_session_window=self.tokens.ttl,
            changes=RecordedAccessChanges(self.access_changes),
        )
        # Identity wired as the container wires it (src/infrastructure/wiring/identity.py), over fakes.
        uc = build_identity(
            uow=self.uow,
            clock=self.clock,
            credentials=Credentials(self.hasher, self.tokens, self.secrets, self.common),
            access_states=self.access,
            rate_limiter=self.limiter,
            login_policy=LOGIN_POLICY,
            refresh_ttl=REFRESH_TTL,
        )
        self.register, self.sign_in, self.refresh = uc.register_user, uc.sign_in, uc.refresh_session
        self.sign_out, self.sign_out_everywhere, self.authenticate = (
            uc.sign_out,
            uc.sign_out_everywhere,
            uc.authenticate,
        )
        self.get_profile, self.update_profile = uc.get_profile, uc.update_profile
        self.change_password, self.deactivate = uc.change_password, uc.deactivate_account
        self.list_users, self.get_user, self.update_user = uc.list_users, uc.get_user, uc.update_user
        self.reset_password = uc.reset_password
        self.create_key, self.list_keys, self.revoke_key = uc.create_api_key, uc.list_api_keys, uc.revoke_api_key

    async def user(
        self, email: str = "ada@example.com", *, role: Role = Role.CREATOR, tier: Tier = Tier.FREE, name: str = "Ada"
    ) -> UserView:
        return await self.register(RegisterUserCommand(email, PASSWORD, name, role=role, tier=tier))

    async def login(self, email: str = "ada@example.com", password: str = PASSWORD, ip: str = CLIENT_IP) -> TokenPair:
        return await self.sign_in(SignInCommand(email, password, ip))

    async def session(
        self, email: str = "ada@example.com", *, role: Role = Role.CREATOR
    ) -> tuple[Principal, TokenPair]:
        """Register ``email``, sign in, and authenticate with the access token."""
        await self.user(email, role=role)
        pair = await self.login(email)
        return await self.authenticate(AuthenticateCommand(pair.access_token)), pair


@pytest.fixture
def world() -> World:
    return World()
