"""Every table of the schema, for Alembic's autogenerate and the migrations-versus-models check.

A context's models are imported by the repositories that use them, so a command that lists users
loads no chat or knowledge table. Alembic must see them all (a table it does not see is a table it
would drop), so every model module is listed here; ``tests/unit/test_schema_modules.py`` fails when
a ``*_models.py`` module is missing from the list.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import MetaData

#: Every module that declares models, identity and shared tables first.
MODEL_MODULES: tuple[str, ...] = (
    "src.infrastructure.persistence.models",
    "src.infrastructure.persistence.admin_models",
    "src.infrastructure.persistence.ai_models",
    "src.infrastructure.persistence.chat_models",
    "src.infrastructure.persistence.knowledge_models",
    "src.infrastructure.persistence.notification_models",
)


def every_table() -> MetaData:
    """The models' metadata with every model module imported: all of the schema's tables."""
    for module in MODEL_MODULES:
        importlib.import_module(module)
    from src.infrastructure.persistence.orm import metadata

    return metadata
