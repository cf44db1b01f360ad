"""The OpenAI-compatible gateway's use cases (``/v1``), built from the container's adapters."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from src.application.chat.complete_chat import CompleteChat
from src.application.llm.ports import ModelCatalog
from src.application.shared.ports import Clock
from src.application.unit_of_work import AppUnitOfWorkFactory
from src.application.usage.ledger import UsageLedger
from src.infrastructure.persistence.budget_repositories import SqlBudgetReader
from src.infrastructure.settings import Settings
from src.infrastructure.wiring.llm import ModelAccess


@dataclass(frozen=True, slots=True)
class GatewayUseCases:
    complete_chat: CompleteChat
    catalog: ModelCatalog


def build_gateway(
    settings: Settings,
    *,
    uow: AppUnitOfWorkFactory,
    models: ModelAccess,
    clock: Clock,
    engine: AsyncEngine,
) -> GatewayUseCases:
    """Calls share the chat's AI allowance (``limiter``), budgets and model router; a call may take
    as long as a chat reply (``REPLY_TIMEOUT_SECONDS``)."""
    return GatewayUseCases(
        complete_chat=CompleteChat(
            uow,
            models.chat_model,
            models.catalog,
            limiter=models.limiter,
            budgets=models.budgets,
            clock=clock,
            timeout_seconds=settings.chat.reply_timeout_seconds,
            ledger=UsageLedger(uow),
            # The budget check in one autocommit statement: the one database read before a call.
            budget_reader=SqlBudgetReader(engine),
        ),
        catalog=models.catalog,
    )
