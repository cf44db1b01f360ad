"""Budget repositories: a user's monthly budget, and a budget check's two figures (the budget and the
month's spending) in one statement, in a unit of work or on a pooled connection."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from src.infrastructure.persistence.chat_models import UserBudgetModel
from src.infrastructure.persistence.driver import run, run_outside_transaction
from src.infrastructure.persistence.sql_support import flush_pending
from src.infrastructure.persistence.usage_repositories import SPENT_IN_MONTH

_BUDGETS = cast(Table, UserBudgetModel.__table__)
BUDGET: Select[Any] = select(_BUDGETS.c.monthly_budget_micros).where(_BUDGETS.c.user_id == bindparam("p_user"))
#: A budget check's two figures in one statement.
_STANDING: Select[Any] = select(BUDGET.scalar_subquery(), SPENT_IN_MONTH.scalar_subquery())


class SqlBudgetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, user_id: uuid.UUID) -> int | None:
        await flush_pending(self._session)
        row = (await run(self._session, BUDGET, {"p_user": user_id})).first()
        return int(row[0]) if row is not None and row[0] is not None else None

    async def standing(self, user_id: uuid.UUID, month_start: datetime) -> tuple[int | None, int]:
        await flush_pending(self._session)
        parameters = {"p_user": user_id, "p_month": month_start.date()}
        budget, spent = (await run(self._session, _STANDING, parameters)).rows[0]
        return (int(budget) if budget is not None else None), int(spent or 0)

    async def set(self, user_id: uuid.UUID, budget_micros: int | None, *, now: datetime) -> None:
        if budget_micros is None:
            await self._session.execute(
                delete(UserBudgetModel).where(UserBudgetModel.user_id == user_id),
                execution_options={"synchronize_session": False},
            )
            return
        row = await self._session.scalar(select(UserBudgetModel).where(UserBudgetModel.user_id == user_id))
        if row is None:
            self._session.add(
                UserBudgetModel(user_id=user_id, monthly_budget_micros=budget_micros, created_at=now, updated_at=now)
            )
        else:
            row.monthly_budget_micros = budget_micros
            row.updated_at = now
        await self._session.flush()


class SqlBudgetReader:
    """``BudgetReader`` in one statement on a pooled connection in autocommit: no session, no
    BEGIN/COMMIT round trips (0.23 ms against 0.62 ms through a read-only unit of work, on PostgreSQL).
    On PostgreSQL it runs on the asyncpg connection itself (``driver.run_outside_transaction``): every
    gateway call checks the budget before the model is called, and SQLAlchemy's connection and
    statement handling cost more CPU than the query (a tenth of a gateway call's)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def standing(self, user_id: uuid.UUID, month_start: datetime) -> tuple[int | None, int]:
        parameters = {"p_user": user_id, "p_month": month_start.date()}
        budget, spent = (await run_outside_transaction(self._engine, _STANDING, parameters)).rows[0]
        return (int(budget) if budget is not None else None), int(spent or 0)
