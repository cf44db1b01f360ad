"""Replies nobody will finish: their instance stopped (crashed, killed) while generating them.

Their lease on the conversation runs out; whoever notices first (a new send, a stop, the start of
an instance, the ``recover_stale_replies`` job) stores the text they had as ``finish_reason`` ``error``
(``error_code`` ``interrupted``) and charges its estimated usage, exactly once: the message's own
"still generating?" check lets only one finisher win.

The text kept is the longer of the row (written every flush interval) and the reply stream (every
delta the readers were sent, while the stream lives): a reader never sees words the stored reply
lacks. The input tokens are the estimate the reply's row was given when it started (what the prompt
held). Once stored, the terminal ``error`` event is appended to the reply stream (``announce``), so
every reader still following it ends.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from src.application.chat.ports import ChargedChatTransaction, ReplyEvent, ReplyStreamStore, reply_text
from src.application.chat.views import MessageView
from src.application.llm.ports import ModelCatalog
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.chat.context import message_tokens
from src.domain.chat.grounding import mark_cited
from src.domain.chat.model import Conversation, Message, MessageStatus
from src.domain.llm.model import FinishReason, Usage, estimate_tokens
from src.domain.usage.model import UsageKind, UsageRecord

INTERRUPTED = "interrupted"


def reply_cost(catalog: ModelCatalog, model: str | None, usage: Usage) -> int:
    """The cost of ``usage`` at the catalog price of ``model`` (0 for a model the catalog lost)."""
    info = catalog.get(model) if model else None
    return info.pricing.cost_micros(usage) if info is not None else 0


def usage_record_for(message: Message, *, now: datetime, requested_model: str | None = None) -> UsageRecord:
    """The usage record of a finished reply; ``requested_model`` (the model asked for, when known)
    tells whether a fallback answered."""
    assert message.usage is not None
    return UsageRecord(
        id=new_id(now),
        user_id=message.user_id,
        kind=UsageKind.REPLY,
        model=message.model or "",
        provider=message.provider or (message.model or "").partition("/")[0],
        usage=message.usage,
        cost_micros=message.cost_micros,
        created_at=now,
        conversation_id=message.conversation_id,
        message_id=message.id,
        latency_ms=message.latency_ms,
        ttft_ms=message.ttft_ms,
        error_code=message.error_code,
        fallback=requested_model is not None and message.model is not None and message.model != requested_model,
    )


@dataclass(frozen=True, slots=True)
class InterruptedReply:
    """A reply ``interrupt_stale_reply`` stored; ``announce`` it once the transaction committed."""

    message: Message
    #: The reply stream already ends with a terminal event (its writer gave up storing the end).
    stream_ended: bool = False


@dataclass(frozen=True, slots=True)
class _StreamTail:
    text: str
    last_event_id: int
    ended: bool


async def _stream_tail(streams: ReplyStreamStore | None, message_id: uuid.UUID) -> _StreamTail | None:
    if streams is None:
        return None
    try:
        events = await streams.read(message_id)
    except Exception:  # noqa: BLE001 - the stream store is best effort; the row is the fallback
        return None
    if not events:
        return None
    ended = events[-1].terminal
    spelled = reply_text([e for e in events if not e.terminal] if ended else list(events))
    if spelled is None:
        return None
    return _StreamTail(text=spelled[0], last_event_id=events[-1].id, ended=ended)


async def interrupt_stale_reply(
    tx: ChargedChatTransaction,
    conversation: Conversation,
    message_id: uuid.UUID,
    *,
    now: datetime,
    catalog: ModelCatalog,
    streams: ReplyStreamStore | None = None,
) -> InterruptedReply | None:
    """Finish the generating ``message_id`` of ``conversation`` as interrupted and free the
    conversation. ``None`` when no reply was stored (finished by someone else, or it had no text)."""
    message = await tx.messages.get(message_id)
    if message is None or message.status is not MessageStatus.GENERATING:
        await tx.conversations.release_reply(conversation.id, message_id, token_total=None, now=now)
        return None
    tail = await _stream_tail(streams, message_id)
    stream_ended = False
    last_event_id = message.last_event_id + 1
    if tail is not None and len(tail.text) > len(message.content) and tail.text.startswith(message.content):
        # The readers saw more than the last flush wrote: keep what they saw.
        message.content = tail.text
    if tail is not None and tail.last_event_id >= message.last_event_id:
        stream_ended = tail.ended
        last_event_id = tail.last_event_id if tail.ended else tail.last_event_id + 1
    if not message.content:
        # The model never wrote anything: there is no reply to keep.
        await tx.messages.delete(message.id)
        await tx.conversations.release_reply(conversation.id, message_id, token_total=None, now=now)
        return None
    # The prompt's estimate was stored on the row when the reply started (0 for older rows).
    input_tokens = message.usage.input_tokens if message.usage is not None else 0
    usage = Usage(input_tokens=input_tokens, output_tokens=estimate_tokens(message.content), estimated=True)
    message.status = MessageStatus.COMPLETE
    message.finish_reason = FinishReason.ERROR
    message.error_code = INTERRUPTED
    message.citations = mark_cited(message.citations, message.content)
    message.usage = usage
    message.cost_micros = reply_cost(catalog, message.model, usage)
    message.token_start = conversation.token_total
    message.token_count = message_tokens(message.content)
    message.last_event_id = last_event_id
    message.updated_at = now
    token_total = conversation.token_total + message.token_count
    # The conversation's row is locked before the usage rows, as a reply's own finish does.
    finished = await tx.messages.finish_and_release(message, token_total=token_total, now=now)
    if finished:
        await tx.usage.record(usage_record_for(message, now=now))
    else:
        await tx.conversations.release_reply(conversation.id, message_id, token_total=token_total, now=now)
    return InterruptedReply(message, stream_ended=stream_ended) if finished else None


async def announce(streams: ReplyStreamStore, interrupted: InterruptedReply | None) -> None:
    """Append the terminal ``error`` (``interrupted``) event of a recovered reply to its stream and
    close it: readers still following the stream end. Best effort (the row has the reply)."""
    if interrupted is None or interrupted.stream_ended:
        return
    message = interrupted.message
    event = ReplyEvent(
        id=message.last_event_id,
        kind="error",
        data={
            "code": INTERRUPTED,
            "detail": "the server writing this reply stopped; the text so far was kept",
            "message": MessageView.of(message).to_json(),
        },
    )
    with contextlib.suppress(Exception):
        await streams.append(message.id, event)
        await streams.close(message.id)


class ReplyRecovery:
    """Finish one abandoned reply now, in its own transaction, and tell its readers."""

    def __init__(
        self,
        uow: UnitOfWorkFactory[ChargedChatTransaction],
        catalog: ModelCatalog,
        streams: ReplyStreamStore,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._catalog = catalog
        self._streams = streams
        self._clock = clock

    @property
    def streams(self) -> ReplyStreamStore:
        return self._streams

    async def recover(self, conversation_id: uuid.UUID, message_id: uuid.UUID) -> InterruptedReply | None:
        """Store ``message_id`` as interrupted when its conversation's lease ran out; ``None`` when its
        writer is alive (lease running) or someone else finished it."""
        now = self._clock.now()
        async with self._uow() as tx:
            conversation = await tx.conversations.get(conversation_id)
            if conversation is None:
                return None
            if conversation.generating_message_id == message_id and conversation.reply_in_progress(now):
                return None  # renewed: its instance is alive after all
            interrupted = await interrupt_stale_reply(
                tx, conversation, message_id, now=now, catalog=self._catalog, streams=self._streams
            )
        await announce(self._streams, interrupted)
        return interrupted
