"""The database: PostgreSQL (``DATABASE_URL``) or the embedded SQLite file, and the connection pool."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from src.infrastructure.settings.reading import Reader, manual, read_group, var

# Common spellings of the two database URLs, mapped to the async drivers Parley uses.
_SCHEME_ALIASES = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    #: Default: the SQLite file ``<PARLEY_VAR_DIR>/parley.db``.
    url: str = manual("DATABASE_URL", "")
    pool_size: int = var("DB_POOL_SIZE", 10, minimum=1)
    max_overflow: int = var("DB_MAX_OVERFLOW", 10, minimum=0)
    pool_timeout: float = var("DB_POOL_TIMEOUT", 10.0, minimum=0.1)
    pool_ping_after: float = var("DB_POOL_PING_AFTER_SECONDS", 1.0, minimum=0.0)
    echo: bool = var("DB_ECHO", False)
    #: DATABASE_URL points at PgBouncer in transaction pooling mode: no server-side prepared statement caches.
    pgbouncer: bool = var("DB_PGBOUNCER", False)
    slow_query_ms: int = var("SLOW_QUERY_MS", 200, minimum=0)

    @property
    def backend(self) -> Literal["postgresql", "sqlite"]:
        return "postgresql" if self.url.startswith("postgresql") else "sqlite"


def load_database(env: Reader, var_dir: Path) -> DatabaseSettings:
    url = env.url(
        "DATABASE_URL",
        aliases=_SCHEME_ALIASES,
        schemes=("postgresql+asyncpg", "sqlite+aiosqlite"),
        default=f"sqlite+aiosqlite:///{(var_dir / 'parley.db').as_posix()}",
    )
    return read_group(DatabaseSettings, env, url=url or "")
