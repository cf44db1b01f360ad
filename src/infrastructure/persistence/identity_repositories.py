"""Identity repositories: users, refresh tokens and API keys, backed by one ``AsyncSession``.

Rows are mapped to and from the domain's entities here; nothing above this module sees a model.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from src.domain.identity.errors import EmailTaken
from src.domain.identity.model import ApiKey, RefreshToken, Role, Tier, User
from src.infrastructure.persistence.models import ApiKeyModel, RefreshTokenModel, UserModel

#: The escape character of LIKE patterns built from user input.
LIKE_ESCAPE = "\\"


def like_pattern(text: str) -> str:
    """``%text%`` with the wildcards and the escape character in ``text`` matched literally."""
    escaped = text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", f"{LIKE_ESCAPE}%").replace("_", f"{LIKE_ESCAPE}_")
    return f"%{escaped}%"


class SqlUserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, user: User) -> None:
        row = UserModel(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            password_hash=user.password_hash,
            role=user.role.value,
            tier=user.tier.value,
            is_active=user.is_active,
            token_version=user.token_version,
            bio=user.bio,
            avatar_version=user.avatar_version,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )
        # A savepoint keeps the surrounding transaction usable when the email is already taken
        # (two registrations racing past the caller's own check end here).
        try:
            async with self._session.begin_nested():
                self._session.add(row)
                await self._session.flush()
        except IntegrityError as exc:
            raise EmailTaken(f"{user.email} is already registered") from exc

    async def get(self, user_id: UUID) -> User | None:
        row = await self._session.get(UserModel, user_id)
        return _to_user(row) if row is not None else None

    async def get_by_email(self, email: str) -> User | None:
        row = await self._session.scalar(select(UserModel).where(UserModel.email == email))
        return _to_user(row) if row is not None else None

    async def save(self, user: User) -> None:
        row = await self._session.get(UserModel, user.id)
        if row is None:
            raise LookupError(f"user {user.id} does not exist")
        row.email = user.email
        row.display_name = user.display_name
        row.password_hash = user.password_hash
        row.role = user.role.value
        row.tier = user.tier.value
        row.is_active = user.is_active
        row.token_version = user.token_version
        row.bio = user.bio
        row.avatar_version = user.avatar_version
        row.updated_at = user.updated_at
        await self._session.flush()

    async def search(self, *, query: str | None, limit: int, offset: int) -> tuple[list[User], int]:
        conditions = []
        text = (query or "").strip()
        if text:
            pattern = like_pattern(text)
            # ILIKE on PostgreSQL, lower(...) LIKE lower(...) on SQLite.
            conditions.append(
                or_(
                    UserModel.email.ilike(pattern, escape=LIKE_ESCAPE),
                    UserModel.display_name.ilike(pattern, escape=LIKE_ESCAPE),
                )
            )
        total = await self._session.scalar(select(func.count()).select_from(UserModel).where(*conditions))
        rows = await self._session.scalars(
            select(UserModel)
            .where(*conditions)
            # UUIDv7 ids grow with time: they break ties between users created in the same instant.
            .order_by(UserModel.created_at.desc(), UserModel.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [_to_user(row) for row in rows], int(total or 0)


class SqlRefreshTokenRepository:
    def __init__(self, session: AsyncSession, *, lock_rows: bool = True) -> None:
        self._session = session
        # A read-only transaction cannot lock rows (PostgreSQL refuses FOR UPDATE in one), nor
        # does it need to: it changes nothing.
        self._lock_rows = lock_rows

    async def add(self, token: RefreshToken) -> None:
        self._session.add(
            RefreshTokenModel(
                id=token.id,
                family_id=token.family_id,
                user_id=token.user_id,
                token_hash=token.token_hash,
                issued_at=token.issued_at,
                expires_at=token.expires_at,
                used_at=token.used_at,
                revoked_at=token.revoked_at,
                created_at=token.issued_at,
                updated_at=token.issued_at,
            )
        )
        await self._session.flush()

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        query = select(RefreshTokenModel).where(RefreshTokenModel.token_hash == token_hash)
        if self._lock_rows:
            # PostgreSQL: a second refresh with the same token waits here until the first commits,
            # then reads the token as used (a reuse) instead of rotating it too. SQLite renders no
            # FOR UPDATE: its IMMEDIATE transactions already admit one writer at a time.
            # A row already in this session is read again, so what the lock protects is current.
            query = query.with_for_update().execution_options(populate_existing=True)
        row = await self._session.scalar(query)
        return _to_refresh_token(row) if row is not None else None

    async def save(self, token: RefreshToken) -> None:
        row = await self._session.get(RefreshTokenModel, token.id)
        if row is None:
            raise LookupError(f"refresh token {token.id} does not exist")
        row.used_at = token.used_at
        row.revoked_at = token.revoked_at
        row.expires_at = token.expires_at
        await self._session.flush()

    async def revoke_family(self, family_id: UUID, now: datetime) -> int:
        result = await self._session.execute(
            update(RefreshTokenModel)
            .where(RefreshTokenModel.family_id == family_id, RefreshTokenModel.revoked_at.is_(None))
            .values(revoked_at=now, updated_at=now)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def revoke_all_for_user(self, user_id: UUID, now: datetime, *, except_family: UUID | None = None) -> int:
        conditions = [RefreshTokenModel.user_id == user_id, RefreshTokenModel.revoked_at.is_(None)]
        if except_family is not None:
            conditions.append(RefreshTokenModel.family_id != except_family)
        # Sessions, not rows: a family still live has exactly one unused, unrevoked token.
        live_sessions = await self._session.scalar(
            select(func.count(RefreshTokenModel.family_id.distinct())).where(
                *conditions, RefreshTokenModel.used_at.is_(None)
            )
        )
        await self._session.execute(update(RefreshTokenModel).where(*conditions).values(revoked_at=now, updated_at=now))
        return int(live_sessions or 0)

    async def ended_families(self, user_id: UUID, *, since: datetime) -> list[UUID]:
        rows = await self._session.execute(
            select(RefreshTokenModel.family_id)
            .where(RefreshTokenModel.user_id == user_id, RefreshTokenModel.revoked_at >= since)
            .distinct()
        )
        return sorted(rows.scalars())

    async def delete_expired(self, now: datetime, *, batch_size: int) -> int:
        expired_ids = (
            select(RefreshTokenModel.id).where(RefreshTokenModel.expires_at < now).limit(batch_size).scalar_subquery()
        )
        result = await self._session.execute(
            delete(RefreshTokenModel).where(RefreshTokenModel.id.in_(expired_ids)),
            execution_options={"synchronize_session": False},
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class SqlApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, key: ApiKey) -> None:
        self._session.add(
            ApiKeyModel(
                id=key.id,
                user_id=key.user_id,
                name=key.name,
                prefix=key.prefix,
                key_hash=key.key_hash,
                expires_at=key.expires_at,
                last_used_at=key.last_used_at,
                revoked_at=key.revoked_at,
                created_at=key.created_at,
                updated_at=key.created_at,
            )
        )
        await self._session.flush()

    async def get(self, key_id: UUID) -> ApiKey | None:
        row = await self._session.get(ApiKeyModel, key_id)
        return _to_api_key(row) if row is not None else None

    async def get_by_hash(self, key_hash: str) -> ApiKey | None:
        row = await self._session.scalar(select(ApiKeyModel).where(ApiKeyModel.key_hash == key_hash))
        return _to_api_key(row) if row is not None else None

    async def list_for_user(self, user_id: UUID) -> list[ApiKey]:
        rows = await self._session.scalars(
            select(ApiKeyModel).where(ApiKeyModel.user_id == user_id).order_by(ApiKeyModel.created_at, ApiKeyModel.id)
        )
        return [_to_api_key(row) for row in rows]

    async def save(self, key: ApiKey) -> None:
        row = await self._session.get(ApiKeyModel, key.id)
        if row is None:
            raise LookupError(f"API key {key.id} does not exist")
        row.name = key.name
        row.expires_at = key.expires_at
        row.last_used_at = key.last_used_at
        row.revoked_at = key.revoked_at
        await self._session.flush()


def _to_user(row: UserModel) -> User:
    return User(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        password_hash=row.password_hash,
        role=Role(row.role),
        tier=Tier(row.tier),
        is_active=row.is_active,
        created_at=row.created_at,
        updated_at=row.updated_at,
        token_version=row.token_version,
        bio=row.bio,
        avatar_version=row.avatar_version,
    )


def _to_refresh_token(row: RefreshTokenModel) -> RefreshToken:
    return RefreshToken(
        id=row.id,
        family_id=row.family_id,
        user_id=row.user_id,
        token_hash=row.token_hash,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
        revoked_at=row.revoked_at,
    )


def _to_api_key(row: ApiKeyModel) -> ApiKey:
    return ApiKey(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        key_hash=row.key_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )
