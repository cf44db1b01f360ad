"""One identity "world" per test: every use case wired to the in-memory fakes and one fake clock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from src.application.identity.access_state import UserAccessStates
from src.application.identity.admin_users import GetUser, ListUsers, ResetPassword, UpdateUser
from src.application.identity.api_keys import CreateApiKey, ListApiKeys, RevokeApiKey
from src.application.identity.authenticate import Authenticate
from src.application.identity.profile import ChangePassword, DeactivateAccount, GetProfile, UpdateProfile
from src.application.identity.refresh_session import RefreshSession
from src.application.identity.register_user import RegisterUser
from src.application.identity.sign_in import SignIn
from src.application.identity.sign_out import SignOut, SignOutEverywhere
from src.application.identity.views import RegisterUserCommand, SignInCommand, TokenPair, UserView
from src.domain.identity.model import Principal, Role, Tier
from src.domain.shared.rate_limit import RateLimitPolicy
from src.infrastructure.rate_limit.memory_limiter import MemoryRateLimiter
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
        uow, clock = self.uow, self.clock
        self.register = RegisterUser(uow, self.hasher, clock, self.common)
        self.sign_in = SignIn(
            uow, self.hasher, self.tokens, self.secrets, clock, self.limiter, LOGIN_POLICY, REFRESH_TTL
        )
        self.refresh = RefreshSession(uow, self.tokens, self.secrets, clock, REFRESH_TTL, self.access)
        self.sign_out = SignOut(uow, self.secrets, clock, self.access)
        self.sign_out_everywhere = SignOutEverywhere(uow, clock, self.access)
        self.authenticate = Authenticate(uow, self.tokens, self.secrets, clock, self.access)
        self.get_profile = GetProfile(uow)
        self.update_profile = UpdateProfile(uow, clock)
        self.change_password = ChangePassword(uow, self.hasher, clock, self.common, self.access)
        self.deactivate = DeactivateAccount(uow, clock, self.access)
        self.list_users = ListUsers(uow)
        self.get_user = GetUser(uow)
        self.update_user = UpdateUser(uow, clock, self.access)
        self.reset_password = ResetPassword(uow, self.hasher, clock, self.common, self.access)
        self.create_key = CreateApiKey(uow, self.secrets, clock)
        self.list_keys = ListApiKeys(uow)
        self.revoke_key = RevokeApiKey(uow, clock, self.access)

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
        return await self.authenticate(pair.access_token), pair


@pytest.fixture
def world() -> World:
    return World()
