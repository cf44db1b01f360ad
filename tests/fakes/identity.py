"""In-memory fakes of the identity ports, implementing the same Protocols as the adapters.

Entities are copied in and out of the stores, so a change a use case makes to an entity it read
reaches the store only through ``save`` and, like the database, only on commit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from src.application.identity.ports import AccessClaims, IssuedAccessToken
from src.domain.identity.errors import EmailTaken, InvalidToken
from src.domain.identity.model import ApiKey, RefreshToken, Role, User


@dataclass
class IdentityTables:
    users: dict[uuid.UUID, User] = field(default_factory=dict)
    refresh_tokens: dict[uuid.UUID, RefreshToken] = field(default_factory=dict)
    api_keys: dict[uuid.UUID, ApiKey] = field(default_factory=dict)

    def copy(self) -> IdentityTables:
        return IdentityTables(
            users={k: dataclasses.replace(v) for k, v in self.users.items()},
            refresh_tokens={k: dataclasses.replace(v) for k, v in self.refresh_tokens.items()},
            api_keys={k: dataclasses.replace(v) for k, v in self.api_keys.items()},
        )


class IdentityRepositories:
    """The identity context's repositories in a fake unit of work (``tests.fakes.shared.InMemoryUnitOfWork``)."""

    identity_tables: IdentityTables

    @property
    def users(self) -> InMemoryUserRepository:
        return InMemoryUserRepository(self.identity_tables.users)

    @property
    def refresh_tokens(self) -> InMemoryRefreshTokenRepository:
        return InMemoryRefreshTokenRepository(self.identity_tables.refresh_tokens)

    @property
    def api_keys(self) -> InMemoryApiKeyRepository:
        return InMemoryApiKeyRepository(self.identity_tables.api_keys)


class InMemoryUserRepository:
    def __init__(self, store: dict[uuid.UUID, User]) -> None:
        self._store = store

    async def add(self, user: User) -> None:
        if any(u.email == user.email for u in self._store.values()):
            raise EmailTaken(f"{user.email} is already registered")
        self._store[user.id] = dataclasses.replace(user)

    async def get(self, user_id: uuid.UUID) -> User | None:
        user = self._store.get(user_id)
        return dataclasses.replace(user) if user is not None else None

    async def get_by_email(self, email: str) -> User | None:
        for user in self._store.values():
            if user.email == email:
                return dataclasses.replace(user)
        return None

    async def save(self, user: User) -> None:
        if user.id not in self._store:
            raise LookupError(f"user {user.id} does not exist")
        self._store[user.id] = dataclasses.replace(user)

    async def search(self, *, query: str | None, limit: int, offset: int) -> tuple[list[User], int]:
        text = (query or "").strip().lower()
        found = [u for u in self._store.values() if text in u.email.lower() or text in u.display_name.lower()]
        found.sort(key=lambda u: (u.created_at, u.id), reverse=True)
        return [dataclasses.replace(u) for u in found[offset : offset + limit]], len(found)


class InMemoryRefreshTokenRepository:
    def __init__(self, store: dict[uuid.UUID, RefreshToken]) -> None:
        self._store = store

    async def add(self, token: RefreshToken) -> None:
        self._store[token.id] = dataclasses.replace(token)

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        for token in self._store.values():
            if token.token_hash == token_hash:
                return dataclasses.replace(token)
        return None

    async def save(self, token: RefreshToken) -> None:
        if token.id not in self._store:
            raise LookupError(f"refresh token {token.id} does not exist")
        self._store[token.id] = dataclasses.replace(token)

    async def revoke_family(self, family_id: uuid.UUID, now: datetime) -> int:
        live = [t for t in self._store.values() if t.family_id == family_id and t.revoked_at is None]
        for token in live:
            token.revoke(now)
        return len(live)

    async def revoke_all_for_user(
        self, user_id: uuid.UUID, now: datetime, *, except_family: uuid.UUID | None = None
    ) -> int:
        live = [
            t
            for t in self._store.values()
            if t.user_id == user_id and t.family_id != except_family and t.revoked_at is None
        ]
        sessions = {t.family_id for t in live if t.used_at is None}
        for token in live:
            token.revoke(now)
        return len(sessions)

    async def delete_expired(self, now: datetime, *, batch_size: int) -> int:
        expired = [k for k, t in self._store.items() if t.expires_at < now][:batch_size]
        for key in expired:
            del self._store[key]
        return len(expired)

    async def ended_families(self, user_id: uuid.UUID, *, since: datetime) -> list[uuid.UUID]:
        return sorted(
            {
                t.family_id
                for t in self._store.values()
                if t.user_id == user_id and t.revoked_at is not None and t.revoked_at >= since
            }
        )

    def family(self, family_id: uuid.UUID) -> list[RefreshToken]:
        return [t for t in self._store.values() if t.family_id == family_id]


class InMemoryApiKeyRepository:
    def __init__(self, store: dict[uuid.UUID, ApiKey]) -> None:
        self._store = store

    async def add(self, key: ApiKey) -> None:
        self._store[key.id] = dataclasses.replace(key)

    async def get(self, key_id: uuid.UUID) -> ApiKey | None:
        key = self._store.get(key_id)
        return dataclasses.replace(key) if key is not None else None

    async def get_by_hash(self, key_hash: str) -> ApiKey | None:
        for key in self._store.values():
            if key.key_hash == key_hash:
                return dataclasses.replace(key)
        return None

    async def list_for_user(self, user_id: uuid.UUID) -> list[ApiKey]:
        keys = sorted((k for k in self._store.values() if k.user_id == user_id), key=lambda k: k.created_at)
        return [dataclasses.replace(k) for k in keys]

    async def save(self, key: ApiKey) -> None:
        if key.id not in self._store:
            raise LookupError(f"API key {key.id} does not exist")
        self._store[key.id] = dataclasses.replace(key)


class FakePasswordHasher:
    """Readable "hashes" (``fake$v<version>$<password>``) so tests run fast; ``version`` plays the
    role of argon2's parameters: a hash made under an older version needs a rehash."""

    def __init__(self, version: int = 1) -> None:
        self.version = version
        self.verified: list[str] = []
        self.dummy_checks = 0

    async def hash(self, password: str) -> str:
        return f"fake$v{self.version}${password}"

    async def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        self.verified.append(password_hash)
        scheme, version, stored = password_hash.split("$", 2)
        if scheme != "fake" or stored != password:
            return False, None
        return True, (await self.hash(password) if version != f"v{self.version}" else None)

    async def verify_dummy(self, password: str) -> None:
        self.dummy_checks += 1


class FakeAccessTokenIssuer:
    """Tokens are ``at.<json claims>``: readable in tests, and checked for expiry like a JWT."""

    def __init__(self, ttl: timedelta = timedelta(minutes=15)) -> None:
        self.ttl = ttl
        self._jti = itertools.count(1)

    def issue(self, user: User, *, now: datetime, session_id: uuid.UUID | None = None) -> IssuedAccessToken:
        claims = {
            "sid": str(session_id) if session_id else None,
            "sub": str(user.id),
            "role": user.role.value,
            "ver": user.token_version,
            "jti": str(next(self._jti)),
            "iat": now.isoformat(),
            "exp": (now + self.ttl).isoformat(),
        }
        return IssuedAccessToken(token="at." + json.dumps(claims), expires_in=int(self.ttl.total_seconds()))

    def verify(self, token: str, *, now: datetime, allow_expired: bool = False) -> AccessClaims:
        if not token.startswith("at."):
            raise InvalidToken()
        try:
            raw = json.loads(token[3:])
            claims = AccessClaims(
                user_id=uuid.UUID(raw["sub"]),
                role=Role(raw["role"]),
                token_version=int(raw["ver"]),
                jti=raw["jti"],
                issued_at=datetime.fromisoformat(raw["iat"]),
                expires_at=datetime.fromisoformat(raw["exp"]),
                session_id=uuid.UUID(raw["sid"]) if raw.get("sid") else None,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidToken() from exc
        if not allow_expired and now >= claims.expires_at:
            raise InvalidToken("the token has expired")
        return claims


class FakeSecretGenerator:
    """Distinct, predictable secrets; digests are real SHA-256 (only they reach the stores)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def refresh_token(self) -> str:
        return f"rt-{next(self._counter):04d}-" + "x" * 40

    def api_key(self) -> str:
        return f"pk_{next(self._counter):08d}" + "y" * 40

    def digest(self, secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()


class FakeCommonPasswords:
    def __init__(self, *passwords: str) -> None:
        self._passwords = frozenset(p.lower() for p in passwords) or frozenset({"password123", "qwertyuiop"})

    def __contains__(self, password: object) -> bool:
        return isinstance(password, str) and password.lower() in self._passwords
