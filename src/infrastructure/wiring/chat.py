"""Wiring of the ``chat`` context: conversations, replies and their realtime adapters.

``build_chat`` takes ports only, so the unit tests build their chat world through it with fakes and
in-process adapters; ``build_realtime`` picks Redis-backed adapters when Redis is configured.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from src.application.ai.chat_guard import ChatSafetyGuard
from src.application.ai.pii_stream import ChatPiiPolicy
from src.application.chat.create_conversation import CreateConversation
from src.application.chat.delete_conversation import DeleteConversation
from src.application.chat.export_conversation import ExportConversation
from src.application.chat.generation import ReplyGenerator
from src.application.chat.get_conversation import GetConversation
from src.application.chat.knowledge_retriever import KnowledgeBaseRetriever
from src.application.chat.list_conversations import ListConversations
from src.application.chat.list_messages import ListMessages
from src.application.chat.ports import ReplyStreamStore, ReplyTasks, StopSignals, UserEvents
from src.application.chat.recover_stale_replies import RecoverStaleReplies
from src.application.chat.recovery import ReplyRecovery
from src.application.chat.regenerate_reply import RegenerateReply
from src.application.chat.replies import ReplyLauncher
from src.application.chat.reply_statements import ReplyEnds, ReplyStarts
from src.application.chat.resume_reply_stream import ResumeReplyStream
from src.application.chat.send_message import SendMessage
from src.application.chat.settings import ReplySettings
from src.application.chat.stop_reply import StopReply
from src.application.chat.summarize_conversation import SummarizeConversation
from src.application.chat.title_conversation import TitleConversation
from src.application.chat.update_conversation import UpdateConversation
from src.application.shared.ports import Clock
from src.application.unit_of_work import AppUnitOfWorkFactory
from src.infrastructure.logging import get_logger
from src.infrastructure.persistence.reply_start import SqlReplyStarts
from src.infrastructure.realtime.connection_slots import ConnectionSlots
from src.infrastructure.realtime.memory_streams import MemoryReplyStreams
from src.infrastructure.realtime.pubsub import PubSubHub
from src.infrastructure.realtime.reply_streams import LOCAL_TTL_WITH_REDIS, RedisReplyStreamStore
from src.infrastructure.realtime.reply_tasks import InProcessReplyTasks
from src.infrastructure.realtime.stop_signals import PubSubStopSignals
from src.infrastructure.realtime.user_events import PubSubUserEvents
from src.infrastructure.resilience import CircuitBreaker
from src.infrastructure.settings import Settings
from src.infrastructure.wiring.llm import ModelAccess

#: The start-up recovery logs under the container's name, as it did when the container held it.
logger = get_logger("parley.container")


@dataclass(frozen=True, slots=True)
class ChatUseCases:
    create_conversation: CreateConversation
    list_conversations: ListConversations
    get_conversation: GetConversation
    update_conversation: UpdateConversation
    delete_conversation: DeleteConversation
    export_conversation: ExportConversation
    list_messages: ListMessages
    send_message: SendMessage
    regenerate_reply: RegenerateReply
    stop_reply: StopReply
    resume_reply_stream: ResumeReplyStream
    title_conversation: TitleConversation
    summarize_conversation: SummarizeConversation
    recover_stale_replies: RecoverStaleReplies


@dataclass(frozen=True, slots=True)
class ChatRealtime:
    """The chat's realtime adapters (ports in src/application/chat/ports.py). Concrete where the
    container starts, stops or drains them, which the ports do not cover."""

    #: Every reply's events, readable from any event id on any instance (``ReplyStreamStore``).
    reply_streams: RedisReplyStreamStore
    #: Per-user events fanned out to every instance.
    user_events: UserEvents
    #: "Stop this reply" delivered to the instance generating it (``StopSignals``).
    stop_signals: PubSubStopSignals
    #: The process-owned tasks generating replies (``ReplyTasks``), drained at shutdown.
    reply_tasks: InProcessReplyTasks
    #: Open WebSockets per user, counted across instances (``WS_MAX_CONNECTIONS_PER_USER``).
    connection_slots: ConnectionSlots


def reply_settings(settings: Settings) -> ReplySettings:
    return ReplySettings(
        max_message_chars=settings.chat.max_message_chars,
        lease_seconds=settings.chat.reply_lease_seconds,
        flush_interval_seconds=settings.chat.reply_flush_interval_ms / 1000,
        timeout_seconds=settings.chat.reply_timeout_seconds,
        grounding_passages=settings.chat.grounding_passages,
        context_tokens=settings.chat.context_tokens,
        summarize=settings.chat.context_summary,
    )


def reply_starts(settings: Settings, engine: AsyncEngine) -> SqlReplyStarts | None:
    """A send's statements on PostgreSQL (``None`` elsewhere), bounded by the deployment's context cap and
    whether running summaries are on."""
    return SqlReplyStarts.for_engine(
        engine, context_tokens=settings.chat.context_tokens, summaries=settings.chat.context_summary
    )


def build_realtime(
    settings: Settings, *, redis: Redis | None, pubsub: PubSubHub | None, breaker: CircuitBreaker
) -> ChatRealtime:
    """Redis streams and pub/sub when configured (``pubsub``), else in-process memory."""
    max_age = settings.chat.reply_timeout_seconds + settings.chat.reply_stream_ttl_seconds + 60
    ttl = settings.chat.reply_stream_ttl_seconds
    return ChatRealtime(
        reply_streams=RedisReplyStreamStore(
            MemoryReplyStreams(ttl=ttl if redis is None else min(ttl, LOCAL_TTL_WITH_REDIS), max_age=max_age),
            redis=redis,
            hub=pubsub,
            breaker=breaker,
            ttl=ttl,
            max_age=max_age,
            timeout=settings.redis.timeout,
        ),
        user_events=PubSubUserEvents(pubsub),
        stop_signals=PubSubStopSignals(pubsub),
        reply_tasks=InProcessReplyTasks(),
        connection_slots=ConnectionSlots(
            redis, breaker, limit=settings.chat.ws_max_connections_per_user, timeout=settings.redis.timeout
        ),
    )


def build_chat(
    *,
    uow: AppUnitOfWorkFactory,
    models: ModelAccess,
    streams: ReplyStreamStore,
    events: UserEvents,
    stops: StopSignals,
    tasks: ReplyTasks,
    clock: Clock,
    settings: ReplySettings,
    excerpt_chars: int,
    pii: ChatPiiPolicy | None = None,
    guard: ChatSafetyGuard | None = None,
    ends: ReplyEnds | None = None,
    starts: ReplyStarts | None = None,
) -> ChatUseCases:
    """``excerpt_chars``: a grounding passage's length; ``pii`` and ``guard`` screen what is sent
    and what comes back (none: nothing is screened); ``ends`` and ``starts``: a reply's end in one statement
    and a send's start with no transaction (none: in units of work)."""
    chat_model, catalog = models.chat_model, models.catalog
    generator = ReplyGenerator(uow, chat_model, catalog, streams, stops, events, clock, settings, ends=ends)
    launcher = ReplyLauncher(
        generator=generator,
        catalog=catalog,
        streams=streams,
        events=events,
        tasks=tasks,
        budgets=models.budgets,
        clock=clock,
        settings=settings,
        retriever=KnowledgeBaseRetriever(excerpt_chars=excerpt_chars),
        pii=pii,
        guard=guard,
        starts=starts,
    )
    recovery = ReplyRecovery(uow, catalog, streams, clock)
    return ChatUseCases(
        create_conversation=CreateConversation(uow, catalog, clock),
        list_conversations=ListConversations(uow, clock),
        get_conversation=GetConversation(uow, clock),
        update_conversation=UpdateConversation(uow, catalog, clock),
        delete_conversation=DeleteConversation(uow, stops, clock),
        export_conversation=ExportConversation(uow, clock),
        list_messages=ListMessages(uow),
        send_message=SendMessage(
            uow=uow,
            launcher=launcher,
            catalog=catalog,
            limiter=models.limiter,
            clock=clock,
            max_message_chars=settings.max_message_chars,
            guard=guard,
        ),
        regenerate_reply=RegenerateReply(
            uow=uow, launcher=launcher, catalog=catalog, limiter=models.limiter, clock=clock
        ),
        stop_reply=StopReply(uow, stops, recovery, clock),
        resume_reply_stream=ResumeReplyStream(uow, streams, settings, recovery, clock),
        title_conversation=TitleConversation(uow, chat_model, catalog, events, clock),
        summarize_conversation=SummarizeConversation(
            uow, chat_model, catalog, clock, context_tokens=settings.context_tokens, enabled=settings.summarize
        ),
        recover_stale_replies=RecoverStaleReplies(uow, recovery, clock),
    )


async def recover_stale_replies_at_start(recover: RecoverStaleReplies) -> None:
    """At an API process's start: finish the replies an instance left behind when it stopped (never
    fails the start)."""
    try:
        recovered = (await recover()).recovered
    except Exception as exc:  # noqa: BLE001 - e.g. a database not migrated yet: the job retries later
        logger.warning("stale_reply_recovery_failed", error=f"{type(exc).__name__}: {exc}")
        return
    if recovered:
        logger.info("stale_replies_recovered", replies=recovered)
