"""Ports of the ``chat`` context.

Repositories (persistence), and the realtime ports every front door shares:

- ``ReplyStreamStore``: the events of each reply (``message``, ``delta``, ``done``, ``error``), kept
  from its start until shortly after its end, readable from any event id on any instance. The SSE
  route, the WebSocket and ``parley chat`` all read replies through it.
- ``UserEvents``: per-user notifications (``reply_started``, ``reply_finished``, ``title``) fanned out
  to every instance (Redis pub/sub; the local instance alone without Redis).
- ``StopSignals``: asks whichever instance is generating a reply to stop it.
- ``ReplyTasks``: the process-owned tasks that generate replies, apart from any request.

Adapters: ``src/infrastructure/persistence/chat_repositories.py`` and ``src/infrastructure/realtime``;
fakes: ``tests/fakes/chat.py``.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

from src.application.knowledge.ports import KnowledgeTransaction
from src.application.shared.ports import Transaction
from src.application.usage.ports import UsageTransaction
from src.domain.chat.model import Conversation, Grounding, Message
from src.domain.identity.model import Principal
from src.domain.llm.model import PromptMessage

if TYPE_CHECKING:
    from src.domain.chat.grounding import Passage

T = TypeVar("T")

# -- persistence --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplyClaim:
    """What claiming a conversation for a reply returns."""

    #: The first of the ``seq`` numbers reserved.
    first_seq: int
    #: The conversation's token total after the claim's ``token_delta`` (read back from the row
    #: the claim updated, so never stale).
    token_total: int


@dataclass(frozen=True, slots=True)
class StaleReply:
    conversation_id: uuid.UUID
    message_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class MessageSearchHit:
    message: Message
    conversation_title: str | None
    rank: float


class ConversationRepository(Protocol):
    async def add(self, conversation: Conversation) -> None: ...

    async def get(self, conversation_id: uuid.UUID, *, user_id: uuid.UUID | None = None) -> Conversation | None:
        """The conversation; with ``user_id``, only when it is that user's (someone else's is ``None``)."""
        ...

    async def list_for_user(
        self, user_id: uuid.UUID, *, query: str | None, archived: bool | None, limit: int, offset: int
    ) -> tuple[list[Conversation], int]:
        """The user's conversations, latest activity first (``query``: part of the title,
        case-insensitive; ``archived``: ``None`` for both), and how many match."""
        ...

    async def save(self, conversation: Conversation) -> None:
        """Store title, model, system prompt, temperature, grounding, archived and timestamps (never
        the reply lock or the token totals: those change through the methods below only)."""
        ...

    async def delete(self, conversation_id: uuid.UUID) -> None:
        """Delete the conversation and its messages."""
        ...

    async def claim_reply(
        self,
        conversation_id: uuid.UUID,
        message_id: uuid.UUID,
        *,
        seqs: int,
        token_delta: int,
        now: datetime,
        lease_until: datetime,
    ) -> ReplyClaim | None:
        """Take the conversation's reply lock for ``message_id`` until ``lease_until`` (a conditional
        update, so exactly one of several instances racing wins), reserve ``seqs`` message numbers,
        add ``token_delta`` to the token total and mark the activity; ``None`` when another reply
        holds the lock and its lease has not run out."""
        ...

    async def renew_reply(self, conversation_id: uuid.UUID, message_id: uuid.UUID, *, lease_until: datetime) -> bool:
        """Extend the lease; ``False`` when the lock is no longer this reply's."""
        ...

    async def release_reply(
        self, conversation_id: uuid.UUID, message_id: uuid.UUID, *, token_total: int | None, now: datetime
    ) -> bool:
        """Drop the lock held for ``message_id`` (and set the token total when given); ``False`` when
        it was not held for it."""
        ...

    async def set_title_if_untitled(self, conversation_id: uuid.UUID, title: str, *, now: datetime) -> bool:
        """Store an automatic title unless the conversation got one meanwhile."""
        ...

    async def mark_title_requested(self, conversation_id: uuid.UUID, *, now: datetime) -> bool:
        """Note that the automatic title was asked for; ``False`` when it already was."""
        ...

    async def mark_summary_requested(
        self, conversation_id: uuid.UUID, *, now: datetime, retry_before: datetime
    ) -> bool:
        """Note that an update of the running summary was queued; ``False`` when one was queued after
        ``retry_before`` and has not finished (a request older than that is presumed lost)."""
        ...

    async def store_summary(
        self,
        conversation_id: uuid.UUID,
        *,
        summary: str | None,
        token_end: int,
        through_id: uuid.UUID | None,
        previous_token_end: int,
        now: datetime,
    ) -> bool:
        """Store the running summary (covering the messages with ``token_start < token_end``, the last
        one ``through_id``) and end the request, if the summary still ends at ``previous_token_end``
        (another update did not get there first); ``False`` otherwise."""
        ...

    async def clear_summary_request(self, conversation_id: uuid.UUID) -> None:
        """End a summary request that had nothing to do."""
        ...

    async def stale_replies(self, now: datetime, *, limit: int) -> list[StaleReply]:
        """Replies whose lease ran out: their instance stopped without finishing them."""
        ...


class MessageRepository(Protocol):
    async def add(self, message: Message) -> None: ...

    async def add_all(self, messages: Sequence[Message]) -> None:
        """``add`` each of ``messages``, in order (one round trip on PostgreSQL)."""
        ...

    async def get(self, message_id: uuid.UUID) -> Message | None: ...

    async def latest(self, conversation_id: uuid.UUID) -> Message | None:
        """The conversation's message with the highest ``seq``."""
        ...

    async def head(self, conversation_id: uuid.UUID, *, after_seq: int = 0, limit: int) -> list[Message]:
        """Up to ``limit`` messages with ``seq`` above ``after_seq``, oldest first."""
        ...

    async def page(self, conversation_id: uuid.UUID, *, before_seq: int | None, limit: int) -> list[Message]:
        """Up to ``limit`` messages with ``seq`` below ``before_seq``, newest first."""
        ...

    async def count(self, conversation_id: uuid.UUID, *, after_seq: int | None = None) -> int: ...

    async def context(self, conversation_id: uuid.UUID, *, min_token_start: int, up_to_seq: int) -> list[PromptMessage]:
        """The complete messages with ``token_start >= min_token_start`` and ``seq <= up_to_seq``,
        oldest first, as a prompt's messages (role, content, stored token count): an index range, so
        only what fits the context window is read, and only what a prompt needs of it."""
        ...

    async def turns_between(
        self, conversation_id: uuid.UUID, *, min_token_start: int, below_token_start: int, limit: int
    ) -> list[Message]:
        """Up to ``limit`` complete messages with ``min_token_start <= token_start < below_token_start``,
        oldest first (the turns that fell out of the context since the summary was written)."""
        ...

    async def save_progress(self, message_id: uuid.UUID, *, content: str, last_event_id: int, now: datetime) -> bool:
        """Store the text of a reply still generating; ``False`` when it is no longer generating."""
        ...

    async def finish(self, message: Message) -> bool:
        """Store a reply as complete, with its usage and cost, if it is still generating (exactly one
        finisher wins; the others get ``False``)."""
        ...

    async def finish_and_release(self, message: Message, *, token_total: int, now: datetime) -> bool:
        """``finish``, and when it won, ``release_reply`` of the reply's conversation with ``token_total``
        in the same step (one statement on PostgreSQL): ``True`` when it won."""
        ...

    async def delete(self, message_id: uuid.UUID) -> None: ...

    async def mark_unanswered(self, message_id: uuid.UUID, error_code: str | None) -> None:
        """Mark a user message whose reply failed before any text (``error_code`` says why), so it shows
        as failed and can be answered again; ``None`` clears the mark. Other messages are left alone."""
        ...

    async def search(
        self, user_id: uuid.UUID, query: str, *, limit: int, offset: int, any_word: bool = False
    ) -> tuple[list[MessageSearchHit], int]:
        """The user's complete messages holding every word of ``query`` (any of them with
        ``any_word``), from the full-text index, best first, and how many match."""
        ...


class ChatTransaction(Transaction, Protocol):
    """The chat context's repositories, in one transaction."""

    @property
    def conversations(self) -> ConversationRepository: ...

    @property
    def messages(self) -> MessageRepository: ...


class ChargedChatTransaction(ChatTransaction, UsageTransaction, Protocol):
    """Chat's repositories and usage's: for the use cases that charge a model call to the user."""


class ReplyTransaction(ChargedChatTransaction, KnowledgeTransaction, Protocol):
    """A reply's transaction: the conversation, the budget it is charged to, and the knowledge
    it is grounded on (``KnowledgeRetriever`` reads it in the same transaction)."""


# -- grounding ----------------------------------------------------------------------------------


class KnowledgeRetriever(Protocol):
    """Passages of a user's knowledge for a grounded reply (``src/application/chat/knowledge_retriever.py``).

    Answered from the knowledge context's search indexes, inside the caller's unit of work (the
    ``SendMessage``/``RegenerateReply`` transaction), never by reading every text.
    """

    async def retrieve(
        self, tx: KnowledgeTransaction, principal: Principal, text: str, grounding: Grounding, limit: int
    ) -> list[Passage]:
        """The best (at most ``limit``) passages of ``principal``'s knowledge for ``text``, best
        first, as ``grounding`` narrows it; none when nothing matches."""
        ...


# -- reply streams ------------------------------------------------------------------------------

ReplyEventKind = Literal["message", "delta", "snapshot", "done", "error"]
TERMINAL_EVENTS: frozenset[str] = frozenset({"done", "error"})


@dataclass(frozen=True, slots=True)
class ReplyEvent:
    """One event of a reply's stream.

    ``id`` counts from 1 within the reply (the SSE ``id``, the WebSocket ``event_id``, as decimal
    text). ``data`` is plain JSON:

    - ``message``: the stored user message the reply answers (a ``MessageView.to_json()``);
    - ``delta``: ``{"text": ...}``, the next piece of the reply;
    - ``snapshot``: ``{"text": ...}``, the whole reply so far, replacing what the reader shows: sent
      instead of the deltas a reader can no longer be given one by one (the shared stream lost them);
    - ``done``: the stored assistant message, with usage, cost, model and finish reason;
    - ``error``: ``{"code", "detail", "message"}``; ``message`` is the stored partial reply, or
      ``null`` when the model failed before writing anything (then nothing was stored).

    ``done`` and ``error`` are terminal: nothing follows them.
    """

    id: int
    kind: ReplyEventKind
    data: Mapping[str, Any]

    @property
    def terminal(self) -> bool:
        return self.kind in TERMINAL_EVENTS


class ReplyStreamStore(Protocol):
    """The events of each reply, keyed by the assistant message id.

    Exactly one writer (the task generating the reply) appends to a stream, with ids 1, 2, 3, ...
    Readers may come and go on any instance: ``follow`` replays what they missed and goes on live.
    A stream is kept until ``REPLY_STREAM_TTL_SECONDS`` after ``close``.
    """

    async def append(self, reply_id: uuid.UUID, event: ReplyEvent) -> None:
        """Add ``event`` (its id one more than the previous one). Never blocks on a slow reader."""
        ...

    async def close(self, reply_id: uuid.UUID) -> None:
        """No more events; the stream expires ``REPLY_STREAM_TTL_SECONDS`` from now."""
        ...

    def follow(
        self, reply_id: uuid.UUID, *, after: int = 0, idle_timeout: float | None = None
    ) -> AsyncIterator[ReplyEvent]:
        """Every event with an id above ``after``, then the live ones as they come, ending after the
        terminal event. Ends early, without a terminal event, when the stream is unknown here (never
        started, expired, or unreachable) and nothing arrives for ``idle_timeout`` seconds
        (``None``: a default of a few seconds). Pull-based: a slow reader holds nothing but its place.

        Raises ``StreamGap`` when the events right after ``after`` are gone (the shared store lost
        them) while later ones exist: the reader cannot be continued event by event."""
        ...

    async def read(self, reply_id: uuid.UUID) -> Sequence[ReplyEvent] | None:
        """Every event the stream holds now, in order (no waiting); ``None`` when the stream is
        unknown here (never started, expired) or its store is unreachable."""
        ...


@runtime_checkable
class ReplyEventBatches(Protocol):
    """A follow of a reply's stream (what ``ReplyStreamStore.follow`` gives, where it can) that hands out every
    event there at once and waits for more in its reader's own task: a response sends what arrived in one
    write, with no task between the writer and itself."""

    #: Nothing more will come (the terminal event was taken, or the stream ended); ``failure``: why, if it failed.
    done: bool
    failure: Exception | None

    def take(self) -> tuple[list[ReplyEvent], bool]:
        """The events there now (up to and including a terminal one), and whether one was terminal."""
        ...

    async def wait(self, timeout: float) -> bool:
        """``True`` once there is something to take (events, or the end); ``False`` after ``timeout``."""
        ...

    async def stop(self) -> None:
        """No more reading."""
        ...


class StreamGap(Exception):
    """A reply stream cannot continue a reader from its position: the events after it are gone."""

    def __init__(self, after: int, next_id: int) -> None:
        super().__init__(f"events {after + 1}..{next_id - 1} are gone")
        self.after = after
        self.next_id = next_id


def reply_text(events: Sequence[ReplyEvent]) -> tuple[str, int] | None:
    """The reply text the ``delta`` (and ``snapshot``) events of a whole stream spell, and the last
    event id; ``None`` when the events are not one unbroken run from id 1 (some were lost)."""
    if not events or events[0].id != 1:
        return None
    parts: list[str] = []
    for previous, event in itertools.pairwise(events):
        if event.id != previous.id + 1:
            return None
        if event.kind == "delta":
            parts.append(str(event.data.get("text", "")))
        elif event.kind == "snapshot":
            parts = [str(event.data.get("text", ""))]
    return "".join(parts), events[-1].id


# -- user events ----------------------------------------------------------------------------------

UserEventType = Literal["reply_started", "reply_finished", "title", "notification", "access_changed"]


@dataclass(frozen=True, slots=True)
class UserEvent:
    """Something every open client of ``user_id`` may want to show at once.

    - ``reply_started``: ``{"conversation_id", "message_id", "user_message", "model"}``: a reply began
      (follow its stream to show it; ``user_message`` is a ``MessageView.to_json()``, or ``null``
      for a regeneration);
    - ``reply_finished``: ``{"conversation_id", "message_id", "finish_reason"}``;
    - ``title``: ``{"conversation_id", "title"}``: the automatic title was stored;
    - ``notification``: a ``NotificationView.to_json()`` (the notifications context's live push);
    - ``access_changed``: ``{}``: the user's access state changed (a session ended, a password
      changed, the account was deactivated...): open clients check their credentials again.
    """

    type: UserEventType
    user_id: uuid.UUID
    data: Mapping[str, Any] = field(default_factory=dict)


class EventsLost(Exception):
    """A subscriber fell too far behind: events were dropped. It should resynchronise (re-read what it
    shows) or close; reply text is never lost this way, it stays in the reply streams."""


class UserEvents(Protocol):
    async def publish(self, event: UserEvent) -> None:
        """Deliver to every subscriber of ``event.user_id`` on every instance. Best effort, never
        raises: without Redis (or while it is unreachable) only this instance's subscribers get it."""
        ...

    def subscribe(self, user_id: uuid.UUID) -> AbstractAsyncContextManager[AsyncIterator[UserEvent]]:
        """``async with events.subscribe(user_id) as stream: async for event in stream: ...``

        Each subscription holds a bounded queue; a subscriber that does not keep up gets
        ``EventsLost`` from its iterator instead of growing memory."""
        ...


# -- stop signals --------------------------------------------------------------------------------


class StopSignals(Protocol):
    async def request_stop(self, reply_id: uuid.UUID) -> None:
        """Ask the instance generating ``reply_id`` to stop it: this one at once, the others through
        Redis pub/sub. Best effort, never raises."""
        ...

    def watch(self, reply_id: uuid.UUID, on_stop: Callable[[], None]) -> AbstractContextManager[None]:
        """While inside the block, a stop requested for ``reply_id`` (from any instance) calls ``on_stop``."""
        ...


# -- generation tasks ----------------------------------------------------------------------------


class ReplyTasks(Protocol):
    """The tasks generating replies, owned by the process: a request that started one may go away,
    the reply goes on. At shutdown they get ``SHUTDOWN_TIMEOUT`` to finish, then are cancelled (and
    store what they have as interrupted)."""

    def spawn(self, reply_id: uuid.UUID, work: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Run ``work`` in a task of its own and return that task. Waiters should shield it
        (``ReplyHandle.outcome`` does): cancelling a waiter must never cancel the reply."""
        ...

    def running(self) -> int: ...
