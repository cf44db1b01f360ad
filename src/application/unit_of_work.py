"""The whole application's unit of work: every context's transaction in one.

Use cases never ask for this: each names the narrow transaction it needs (``ChatTransaction``,
``IdentityTransaction``, ... in each context's ``ports.py``, on the shared ``Transaction`` of
``src/application/shared/ports.py``). The composition root does: the adapter it builds
(``SqlAlchemyUnitOfWorkFactory``) and the in-memory fake must be a ``UnitOfWorkFactory[UnitOfWork]``,
which is what lets them be handed to every use case. A new context adds its transaction here, one
line, and nowhere else in the application's shared modules.
"""

from __future__ import annotations

from typing import Protocol

from src.application.admin.ports import AdminTransaction
from src.application.chat.ports import ChatTransaction
from src.application.identity.ports import IdentityTransaction
from src.application.knowledge.ports import KnowledgeTransaction
from src.application.notifications.ports import NotificationsTransaction
from src.application.shared.ports import UnitOfWorkFactory
from src.application.usage.ports import UsageTransaction


class UnitOfWork(
    AdminTransaction,
    ChatTransaction,
    IdentityTransaction,
    KnowledgeTransaction,
    NotificationsTransaction,
    UsageTransaction,
    Protocol,
):
    """One transaction with every context's repositories (what the adapter provides)."""


#: What the composition root builds and hands to every use case.
AppUnitOfWorkFactory = UnitOfWorkFactory[UnitOfWork]
