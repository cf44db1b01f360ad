"""What Alembic's autogenerate compares: every table but those the migrations manage by hand.

Full-text indexes differ by database and are created by their migrations, not from models (see
``knowledge_models.SEARCH_INDEX_TABLES``); on SQLite FTS5 adds its own tables named after the
virtual table (``<name>_data``, ``<name>_idx``, ...). Autogenerate must neither drop them nor
compare them with the models.
"""

from __future__ import annotations

from typing import Any

from src.infrastructure.persistence.knowledge_models import SEARCH_INDEX_TABLES
from src.infrastructure.persistence.message_search import SEARCH_INDEX_TABLES as MESSAGE_SEARCH_TABLES
from src.infrastructure.persistence.message_search import SEARCH_INDEXES as MESSAGE_SEARCH_INDEXES

UNMODELLED_TABLES: tuple[str, ...] = (*SEARCH_INDEX_TABLES, *MESSAGE_SEARCH_TABLES)
#: Indexes on modelled tables that the migrations create by hand (expression indexes).
UNMODELLED_INDEXES: frozenset[str] = frozenset(MESSAGE_SEARCH_INDEXES)


def is_unmodelled_table(name: str) -> bool:
    return any(name == table or name.startswith(f"{table}_") for table in UNMODELLED_TABLES)


def include_name(name: str | None, type_: str, _parent_names: Any) -> bool:
    """Alembic's ``include_name`` hook."""
    if type_ == "index" and name in UNMODELLED_INDEXES:
        return False
    return not (type_ == "table" and name is not None and is_unmodelled_table(name))
