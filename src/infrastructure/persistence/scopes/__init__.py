"""Each context's repositories on a unit of work's session: the bases of ``SqlAlchemyUnitOfWork``.

One mixin per context (``ChatRepositories``, ...). A mixin imports its repositories (and so their
models and statements) the first time a unit of work asks for one: a command that reads users never
loads the chat or knowledge code. A new context adds its module here and one base to the unit of
work.
"""

from __future__ import annotations

import importlib

#: The modules the mixins import on first use.
REPOSITORY_MODULES: tuple[str, ...] = (
    "src.infrastructure.persistence.admin_repositories",
    "src.infrastructure.persistence.budget_repositories",
    "src.infrastructure.persistence.chat_repositories",
    "src.infrastructure.persistence.identity_repositories",
    "src.infrastructure.persistence.knowledge_repositories",
    "src.infrastructure.persistence.message_repository",
    "src.infrastructure.persistence.notification_repositories",
    "src.infrastructure.persistence.usage_repositories",
)


def import_every_repository() -> None:
    """Import now what the mixins import on first use. The API and the worker build the full container,
    which calls this, so that no request pays for loading a context's repositories and models."""
    for module in REPOSITORY_MODULES:
        importlib.import_module(module)
