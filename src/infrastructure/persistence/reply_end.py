"""A chat reply's end as one PostgreSQL statement in autocommit (``ReplyEnds``).

A reply ends with its final write, the release of its conversation's reply lock, its charge with the
running totals, and, near the user's budget, the ``UsageCharged`` event's outbox message. In a unit of
work that was four round trips: BEGIN, the final write with the release (``finish_and_release``), the
charge (``record_and_total``), COMMIT. Here the four writes are the data-modifying CTEs of one statement,
which PostgreSQL runs atomically on its own: one round trip, on a pooled asyncpg connection
(``driver.run_outside_transaction``).

Every write after the final one selects from it, so nothing is written when the reply was finished
already (by the stale-reply recovery, or deleted with its conversation): the caller then ends it in a
unit of work, as before. The row locks come in a unit of work's order: the message's row (the final
write), the conversation's (the release, which the charge waits for), then the usage rows in
``charge_ctes``'s order. The outbox message is stored only when the month's total after the charge
reaches the alert's threshold, the condition ``record_charge_if_near_budget`` tests in a transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import BigInteger, Integer, Table, TextualSelect, bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from src.application.usage.budget import ChargeAlert
from src.domain.chat.model import Message, MessageStatus
from src.domain.usage.model import UsageRecord
from src.infrastructure.persistence.chat_models import ChatMessageModel, ConversationModel
from src.infrastructure.persistence.driver import run_outside_transaction
from src.infrastructure.persistence.message_repository import FINISHED_COLUMNS, finished_parameters
from src.infrastructure.persistence.models import OutboxMessageModel
from src.infrastructure.persistence.orm import GUID, DateTimeUTC
from src.infrastructure.persistence.usage_repositories import charge_bindparams, charge_ctes, charge_parameters

_MESSAGES = cast(Table, ChatMessageModel.__table__)
_CONVERSATIONS = cast(Table, ConversationModel.__table__)
_OUTBOX = cast(Table, OutboxMessageModel.__table__)


def _finish_and_charge() -> TextualSelect:
    generating = MessageStatus.GENERATING.value
    finished = ", ".join(f"{name} = :p_{name}" for name in FINISHED_COLUMNS)
    sql = (
        f"WITH finished AS (UPDATE {_MESSAGES.name} SET {finished} "
        f"WHERE id = :p_id AND status = '{generating}' RETURNING id), "
        f"released AS (UPDATE {_CONVERSATIONS.name} SET generating_message_id = NULL, generating_until = NULL, "
        "last_activity_at = :p_now, token_total = :p_token_total, updated_at = :p_now "
        "WHERE id = :p_conversation AND generating_message_id = :p_id AND EXISTS (SELECT 1 FROM finished) "
        "RETURNING 1 AS done), "
        # The charge once the final write applied, and once the release has taken (or passed) the
        # conversation's row: the scalar subquery runs the release to its end first.
        "charged AS (SELECT 1 AS done FROM finished WHERE (SELECT count(*) FROM released) >= 0), "
        f"{charge_ctes(after='charged')}, "
        f"alerted AS (INSERT INTO {_OUTBOX.name} (id, job_name, payload, attempts, available_at, created_at, "
        "updated_at) SELECT CAST(:o_id AS uuid), CAST(:o_job_name AS text), CAST(:o_payload AS jsonb), 0, "
        "CAST(:o_now AS timestamptz), CAST(:o_now AS timestamptz), CAST(:o_now AS timestamptz) "
        "FROM month_total WHERE month_total.cost_micros >= CAST(:o_from AS bigint) RETURNING 1 AS done) "
        "SELECT (SELECT count(*) FROM finished) AS won, (SELECT count(*) FROM alerted) AS alerted"
    )
    return (
        text(sql)
        .bindparams(
            *(bindparam(f"p_{name}", type_=_MESSAGES.c[name].type) for name in FINISHED_COLUMNS),
            bindparam("p_id", type_=GUID()),
            bindparam("p_conversation", type_=GUID()),
            bindparam("p_now", type_=DateTimeUTC(timezone=True)),
            bindparam("p_token_total", type_=Integer()),
            *charge_bindparams(),
            bindparam("o_id", type_=GUID()),
            bindparam("o_payload", type_=_OUTBOX.c.payload.type),
            bindparam("o_now", type_=DateTimeUTC(timezone=True)),
            bindparam("o_from", type_=BigInteger()),
        )
        .columns(won=BigInteger, alerted=BigInteger)
    )


_FINISH_AND_CHARGE = _finish_and_charge()


class SqlReplyEnds:
    """``ReplyEnds`` on PostgreSQL (``for_engine`` gives none elsewhere: SQLite has no data-modifying CTEs).
    ``on_outbox``: called when an outbox message was stored (the relay wakes at once, as after a unit of
    work's commit)."""

    def __init__(self, engine: AsyncEngine, on_outbox: Callable[[], None]) -> None:
        self._engine = engine
        self._on_outbox = on_outbox

    @classmethod
    def for_engine(cls, engine: AsyncEngine, on_outbox: Callable[[], None]) -> SqlReplyEnds | None:
        return cls(engine, on_outbox) if engine.dialect.name == "postgresql" else None

    async def finish_and_charge(
        self, message: Message, *, token_total: int, record: UsageRecord, alert: ChargeAlert | None
    ) -> bool:
        parameters: dict[str, Any] = finished_parameters(message)
        parameters.update(p_conversation=message.conversation_id, p_now=message.updated_at, p_token_total=token_total)
        parameters.update(charge_parameters(record))
        outbox = alert.message if alert is not None else None
        parameters.update(
            o_id=outbox.id if outbox is not None else None,
            o_job_name=outbox.job_name if outbox is not None else None,
            o_payload=outbox.payload if outbox is not None else None,
            o_now=outbox.created_at if outbox is not None else None,
            o_from=alert.from_micros if alert is not None else None,  # NULL: never reached
        )
        won, alerted = (await run_outside_transaction(self._engine, _FINISH_AND_CHARGE, parameters)).rows[0]
        if alerted:
            self._on_outbox()
        return bool(won)
