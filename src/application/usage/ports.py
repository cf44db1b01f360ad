"""Ports of the ``usage`` context. Adapters: ``src/infrastructure/persistence/usage_repositories.py``
and ``budget_repositories.py``; fakes: ``tests/fakes/chat.py``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol

from src.application.shared.ports import Transaction
from src.domain.usage.model import UsageRecord

UsageGrouping = Literal["day", "model", "api_key"]
#: The ``api_key`` bucket of calls made without one (an access token, the chat, Parley's own jobs).
NO_API_KEY = "no_api_key"


@dataclass(frozen=True, slots=True)
class UsageBucket:
    """The totals of one day (``key`` is ``YYYY-MM-DD``), one model (``provider/model``) or one API key
    (its id, or ``NO_API_KEY``)."""

    key: str
    requests: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cost_micros: int


class UsageRepository(Protocol):
    async def record(self, record: UsageRecord) -> None:
        """Store ``record`` and add its cost to the user's monthly total, in the caller's transaction
        (so the total is read in O(1) when checking a budget)."""
        ...

    async def record_and_total(self, record: UsageRecord) -> int:
        """``record``, then the user's spending in the record's month, this record included (what
        ``spent_in_month`` would read next in the same transaction; one statement on PostgreSQL)."""
        ...

    async def record_many(self, records: Sequence[UsageRecord]) -> None:
        """``record`` each of ``records`` in the caller's transaction, taking the running totals' row
        locks in one order whatever the records' order (two batches never wait for each other in a cycle)."""
        ...

    async def spent_in_month(self, user_id: uuid.UUID, month_start: datetime) -> int:
        """Micro-dollars the user spent in the month starting at ``month_start``."""
        ...

    async def summarize(
        self, user_id: uuid.UUID, *, start: date, end: date, group_by: UsageGrouping
    ) -> list[UsageBucket]:
        """Totals of the user's records from ``start`` to ``end`` (both included, UTC days), ordered
        by day, or by cost (highest first) per model."""
        ...


class BudgetRepository(Protocol):
    async def get(self, user_id: uuid.UUID) -> int | None:
        """The user's own monthly budget in micro-dollars, or ``None`` (their tier's applies)."""
        ...

    async def standing(self, user_id: uuid.UUID, month_start: datetime) -> tuple[int | None, int]:
        """(``get``, what the user spent in the month starting at ``month_start``) in one read: what a
        budget check needs, as ``BudgetReader.standing`` but in the caller's transaction."""
        ...

    async def set(self, user_id: uuid.UUID, budget_micros: int | None, *, now: datetime) -> None:
        """Set the user's own budget; ``None`` removes it (back to the tier's)."""
        ...


class UsageTransaction(Transaction, Protocol):
    """The usage context's repositories, in one transaction."""

    @property
    def usage(self) -> UsageRepository: ...

    @property
    def budgets(self) -> BudgetRepository: ...


class BudgetReader(Protocol):
    """What a budget check reads, outside any unit of work: the one read before a model call."""

    async def standing(self, user_id: uuid.UUID, month_start: datetime) -> tuple[int | None, int]:
        """(the user's own monthly budget, or ``None`` for their tier's; what they spent in the month
        starting at ``month_start``), in micro-dollars."""
        ...
