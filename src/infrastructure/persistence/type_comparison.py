"""Column type comparison for Alembic that does not report false differences on SQLite.

SQLite keeps the declared type text of each column verbatim, but SQLAlchemy's reflection maps
unknown names by affinity (``BINARY(16)`` comes back as ``NUMERIC``), so the default comparison
sees a change on every UUID column. On SQLite we compare the declared text with what the model's
type compiles to instead; everywhere else Alembic's own comparison applies.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column
from sqlalchemy.types import TypeEngine


def compare_column_type(
    context: Any,
    _inspected_column: Any,
    metadata_column: Column[Any],
    _inspected_type: TypeEngine[Any],
    metadata_type: TypeEngine[Any],
) -> bool | None:
    if context.dialect.name != "sqlite" or context.connection is None:
        return None  # Alembic's default comparison
    table = metadata_column.table.name
    rows = context.connection.exec_driver_sql(f'PRAGMA table_info("{table}")').fetchall()
    declared = {row[1]: row[2] for row in rows}.get(metadata_column.name)
    if declared is None:
        return None
    expected = metadata_type.compile(dialect=context.dialect)
    return _normalise(declared) != _normalise(expected)


def _normalise(type_text: str) -> str:
    return "".join(type_text.split()).upper()
