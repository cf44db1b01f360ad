"""The chat's statements with no transaction around them, on databases that have them (PostgreSQL): a
send's reads and its one write (``ReplyStarts``), a reply's end (``ReplyEnds``). Where a use case is not
given them (SQLite), or they cannot apply, it does the same in a unit of work (``ports.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from src.domain.chat.model import Conversation, Message
from src.domain.llm.model import PromptMessage

if TYPE_CHECKING:
    from src.application.usage.budget import ChargeAlert
    from src.domain.usage.model import UsageRecord


@dataclass(frozen=True, slots=True)
class ConversationStanding:
    """A conversation as a send reads it ahead (``ReplyStarts.read``), with its owner's budget standing."""

    conversation: Conversation
    #: The owner's own monthly budget (``None``: the tier's) and the month's spending so far.
    budget_micros: int | None
    spent_micros: int


class ReplyStart(Protocol):
    """A send's statements on one pooled connection (``ReplyStarts.open``), each in autocommit."""

    async def read(
        self, conversation_id: uuid.UUID, user_id: uuid.UUID, month_start: datetime
    ) -> ConversationStanding | None:
        """``user_id``'s conversation, with the user's budget standing for the month, in one statement;
        ``None`` when the user has no such conversation."""
        ...

    async def context(self, conversation_id: uuid.UUID, *, min_token_start: int, up_to_seq: int) -> list[PromptMessage]:
        """``MessageRepository.context``, outside a transaction."""
        ...

    async def claim_and_store(
        self,
        conversation: Conversation,
        reply_id: uuid.UUID,
        messages: Sequence[Message],
        *,
        token_delta: int,
        now: datetime,
        lease_until: datetime,
    ) -> bool:
        """Take ``conversation``'s reply lock for ``reply_id`` (its next ``len(messages)`` message numbers,
        ``token_delta`` more tokens) and store ``messages``, all of it or nothing, only if the conversation
        is as read (unchanged since, its lock free or run out). Whether it was."""
        ...


class ReplyStarts(Protocol):
    """A send's reads and its one write with no transaction around them (no BEGIN and COMMIT round
    trips), on PostgreSQL (``src/infrastructure/persistence/reply_start.py``): the model is called once the
    conversation and its context are read, and the write claims the reply lock only if the conversation
    is still as read. Where it is not given (SQLite), or the conversation changed, a send is planned in
    one transaction."""

    def open(self) -> AbstractAsyncContextManager[ReplyStart]:
        """One pooled connection for a send's statements (checked out once, not once a statement)."""
        ...


class ReplyEnds(Protocol):
    """A reply's end as one atomic statement, with no transaction around it (no BEGIN and COMMIT round
    trips): on PostgreSQL (``src/infrastructure/persistence/reply_end.py``). Where it is not given (SQLite),
    the reply ends in a unit of work, as one that raises other events does."""

    async def finish_and_charge(
        self, message: Message, *, token_total: int, record: UsageRecord, alert: ChargeAlert | None
    ) -> bool:
        """The final write of ``message`` (only while the reply is generating) and, when it applied: the
        release of its conversation's reply lock (when this reply holds it) with ``token_total``, the charge
        ``record`` with its running totals, and ``alert``'s message when the month's total reaches it. All of
        it or nothing. Whether the final write applied (nothing was written when not)."""
        ...
