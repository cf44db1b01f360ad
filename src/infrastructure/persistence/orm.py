"""The declarative base of Parley's models, on SQLAlchemy alone.

The models used to subclass advanced-alchemy's bases (``advanced_alchemy.base.UUIDv7AuditBase``)
and column types (``advanced_alchemy.types.GUID``, ``DateTimeUTC``). Importing any part of
advanced-alchemy runs its package ``__init__``, which imports all of it: Litestar's DTOs, pydantic,
its services and CLI, ~0.5 s of CPU before a ``parley`` command reads its first row. So the bases and
the two types live here, the same schema to the byte: the same column types (rendered in migrations
as ``advanced_alchemy.types.GUID(length=16)`` and ``DateTimeUTC(timezone=True)``, the names the
existing migrations use), the same constraint naming convention, UUIDv7 keys, the insert sentinel
column and the audit timestamps. ``tests/integration/test_persistence.py`` checks the models
against the migrations; the API and the worker still run them through advanced-alchemy's
``SQLAlchemyAsyncConfig`` (``database.build_database_config``).
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from sqlalchemy import Date, MetaData
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, registry, validates
from sqlalchemy.sql.schema import _InsertSentinelColumnDefault
from sqlalchemy.types import BINARY, CHAR, DateTime, TypeDecorator
from uuid_utils.compat import uuid7

if TYPE_CHECKING:
    from sqlalchemy.sql.schema import _NamingSchemaParameter

#: Constraint and index names, as advanced-alchemy's ``convention`` names them.
NAMING_CONVENTION: _NamingSchemaParameter = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
#: Dialects with a native UUID column type.
_NATIVE_UUID = frozenset({"postgresql", "duckdb", "cockroachdb"})


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class GUID(TypeDecorator[UUID]):
    """A UUID: PostgreSQL's ``uuid``, elsewhere 16 bytes (``BINARY(16)``), or 32 hex characters with
    ``binary=False``. Stores what ``advanced_alchemy.types.GUID`` stores."""

    impl = BINARY(16)
    cache_ok = True

    def __init__(self, *args: Any, binary: bool = True, **kwargs: Any) -> None:
        # Like advanced-alchemy's: the class-level BINARY(16) is the impl (and the repr's source).
        self.binary = binary

    @property
    def python_type(self) -> type[UUID]:
        return UUID

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name in _NATIVE_UUID:
            return dialect.type_descriptor(PG_UUID())
        return dialect.type_descriptor(BINARY(16) if self.binary else CHAR(32))

    def process_bind_param(self, value: bytes | str | UUID | None, dialect: Dialect) -> bytes | str | None:
        if value is None:
            return None
        if dialect.name in _NATIVE_UUID:
            return str(value)
        uuid = self.to_uuid(value)
        return uuid.bytes if self.binary else uuid.hex

    def process_result_value(self, value: bytes | str | UUID | None, dialect: Dialect) -> UUID | None:
        if value is None:
            return None
        if value.__class__.__name__ == "UUID":  # the stdlib's, or asyncpg's own
            return cast("UUID", value)
        if self.binary:
            return UUID(bytes=cast("bytes", value))
        return UUID(hex=cast("str", value))

    @staticmethod
    def to_uuid(value: Any) -> UUID:
        if value.__class__.__name__ == "UUID":
            return cast("UUID", value)
        try:
            return UUID(hex=value)
        except (TypeError, ValueError):
            return UUID(bytes=value)

    def compare_values(self, x: Any, y: Any) -> bool:
        if x.__class__.__name__ == "UUID" and y.__class__.__name__ == "UUID":
            return cast("bool", x.bytes == y.bytes)
        return cast("bool", x == y)


class DateTimeUTC(TypeDecorator[datetime.datetime]):
    """A timezone-aware datetime, stored in UTC and always read back aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime.datetime]:
        return datetime.datetime

    def process_bind_param(self, value: datetime.datetime | None, dialect: Dialect) -> datetime.datetime | None:
        if value is None:
            return None
        if not value.tzinfo:
            raise TypeError("tzinfo is required")
        return value.astimezone(datetime.UTC)

    def process_result_value(self, value: datetime.datetime | None, dialect: Dialect) -> datetime.datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=datetime.UTC)


orm_registry = registry(
    metadata=MetaData(naming_convention=NAMING_CONVENTION),
    type_annotation_map={UUID: GUID, datetime.datetime: DateTimeUTC, datetime.date: Date},
)
metadata = orm_registry.metadata


class DefaultBase(DeclarativeBase, AsyncAttrs):
    """A model on Parley's registry, with no column of its own."""

    registry = orm_registry
    __abstract__ = True


class UUIDv7Base(DefaultBase):
    """A UUIDv7 primary key ``id`` and SQLAlchemy's insert sentinel column (``sa_orm_sentinel``,
    which lets a bulk insert match returned rows to objects)."""

    __abstract__ = True

    id: Mapped[UUID] = mapped_column(default=uuid7, primary_key=True, sort_order=-100)

    @declared_attr
    def _sentinel(cls) -> Mapped[int]:  # noqa: N805 - a declared attribute takes the class
        return mapped_column(
            name="sa_orm_sentinel",
            insert_default=_InsertSentinelColumnDefault(),
            _omit_from_statements=True,
            insert_sentinel=True,
            use_existing_column=True,
            nullable=True,
            sort_order=3001,
        )


class UUIDv7AuditBase(UUIDv7Base):
    """``UUIDv7Base`` with ``created_at`` and ``updated_at`` (set on insert, ``updated_at`` again on
    every update of the row), always timezone-aware."""

    __abstract__ = True

    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=_utc_now, sort_order=3002)
    updated_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True), default=_utc_now, onupdate=_utc_now, sort_order=3003
    )

    @validates("created_at", "updated_at")
    def _aware(self, _key: str, value: datetime.datetime) -> datetime.datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)
