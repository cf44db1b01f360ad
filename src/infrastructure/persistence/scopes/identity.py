"""The identity context's repositories on a unit of work's session (imported on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from src.infrastructure.persistence.sql_support import SessionScope

if TYPE_CHECKING:
    from src.infrastructure.persistence.identity_repositories import (
        SqlApiKeyRepository,
        SqlRefreshTokenRepository,
        SqlUserRepository,
    )


class IdentityRepositories(SessionScope):
    """The identity context's repositories on a unit of work's session: a base of ``SqlAlchemyUnitOfWork``."""

    @property
    def users(self) -> SqlUserRepository:
        from src.infrastructure.persistence.identity_repositories import SqlUserRepository

        return SqlUserRepository(self.session)

    @property
    def refresh_tokens(self) -> SqlRefreshTokenRepository:
        from src.infrastructure.persistence.identity_repositories import SqlRefreshTokenRepository

        return SqlRefreshTokenRepository(self.session, lock_rows=not self.read_only)

    @property
    def api_keys(self) -> SqlApiKeyRepository:
        from src.infrastructure.persistence.identity_repositories import SqlApiKeyRepository

        return SqlApiKeyRepository(self.session)
