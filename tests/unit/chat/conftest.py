"""One chat "world" per test: every chat and usage use case, wired by the container's own builders
(``build_chat``, ``build_usage``) over the in-memory fakes, the in-process realtime adapters (memory
reply streams, local events and stops), a scripted model and one fake clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from src.application.chat.create_conversation import CreateConversationCommand
from src.application.chat.ports import ReplyEvent
from src.application.chat.recovery import ReplyRecovery
from src.application.chat.send_message import SendMessageCommand
from src.application.chat.settings import ReplySettings
from src.application.chat.views import ConversationView, ReplyHandle
from src.application.usage.ai_requests import AiRequestLimiter
from src.domain.chat.defaults import DEFAULT_CONTEXT_TOKENS
from src.domain.identity.model import Principal, Role, Tier, User, permissions_of
from src.domain.llm.model import ModelInfo, ModelPricing
from src.domain.shared.rate_limit import RateLimitPolicy
from src.domain.usage.model import TierBudgets
from src.infrastructure.llm.catalog import FileModelCatalog
from src.infrastructure.rate_limit.memory_limiter import MemoryRateLimiter
from src.infrastructure.realtime.memory_streams import MemoryReplyStreams
from src.infrastructure.realtime.reply_streams import RedisReplyStreamStore
from src.infrastructure.realtime.reply_tasks import InProcessReplyTasks
from src.infrastructure.realtime.stop_signals import PubSubStopSignals
from src.infrastructure.realtime.user_events import PubSubUserEvents
from src.infrastructure.wiring.chat import build_chat
from src.infrastructure.wiring.llm import ModelAccess
from src.infrastructure.wiring.usage import build_usage
from tests.fakes.chat import InMemoryReplyEnds, InMemoryReplyStarts, ScriptedChatModel
from tests.fakes.shared import FakeClock, FakeUnitOfWorkFactory

#: $1,000 per million tokens both ways: 1,000 micro-dollars a token, so costs are easy to read.
PRICED = ModelPricing(input_per_million=1_000_000_000, output_per_million=1_000_000_000)
MODELS = [
    ModelInfo("offline/echo", "Echo", context_window=8192, max_output_tokens=2048),
    ModelInfo("offline/priced", "Priced", context_window=8192, max_output_tokens=2048, pricing=PRICED),
    # Room for 200 - 50 = 150 tokens of history: a handful of short messages.
    ModelInfo("offline/tiny", "Tiny window", context_window=200, max_output_tokens=50),
    ModelInfo(
        "openai/nano", "Cheap", context_window=100_000, max_output_tokens=1000, capabilities=frozenset({"cheap"})
    ),
]
BUDGETS = TierBudgets(free_micros=5_000_000, pro_micros=50_000_000)
AI_FREE = RateLimitPolicy("ai_free", limit=20, window_seconds=60)
AI_PRO = RateLimitPolicy("ai_pro", limit=120, window_seconds=60)


def principal(*, role: Role = Role.CREATOR, tier: Tier = Tier.FREE, user_id: uuid.UUID | None = None) -> Principal:
    return Principal(
        user_id=user_id or uuid.uuid4(),
        email="someone@example.com",
        role=role,
        tier=tier,
        permissions=permissions_of(role),
    )


@dataclass
class ChatWorld:
    clock: FakeClock = field(default_factory=FakeClock)
    model: ScriptedChatModel = field(default_factory=ScriptedChatModel)
    providers: tuple[str, ...] = ()
    #: ``CHAT_CONTEXT_TOKENS`` and ``CHAT_CONTEXT_SUMMARY`` of this world.
    context_tokens: int = DEFAULT_CONTEXT_TOKENS
    summarize: bool = True
    #: The reply settings; by default fast timers and the context fields above.
    settings: ReplySettings | None = None
    #: Replies end in one statement (``ReplyEnds``) and sends are planned ahead of a transaction
    #: (``ReplyStarts``), as on PostgreSQL; not in units of work.
    one_statement_ends: bool = False
    sends_ahead: bool = False

    def __post_init__(self) -> None:
        clock = self.clock
        self.uow = FakeUnitOfWorkFactory(clock=clock)
        self.db = self.uow.database
        self.catalog = FileModelCatalog(MODELS, configured_providers=self.providers, default_model="offline/echo")
        self.streams = RedisReplyStreamStore(MemoryReplyStreams(ttl=60, max_age=600), ttl=60, max_age=600)
        self.events = PubSubUserEvents()
        self.stops = PubSubStopSignals()
        self.tasks = InProcessReplyTasks()
        self.limiter = MemoryRateLimiter(clock=clock.monotonic)
        if self.settings is None:
            self.settings = ReplySettings(
                flush_interval_seconds=0.01,
                lease_seconds=30,
                stream_idle_timeout_seconds=0.1,
                watch_seconds=0.05,
                context_tokens=self.context_tokens,
                summarize=self.summarize,
            )
        self.reply_ends = InMemoryReplyEnds(self.uow) if self.one_statement_ends else None
        self.reply_starts = InMemoryReplyStarts(self.uow) if self.sends_ahead else None
        models = ModelAccess(
            self.model, self.catalog, AiRequestLimiter(self.limiter, {Tier.FREE: AI_FREE, Tier.PRO: AI_PRO}), BUDGETS
        )
        # The chat wired as the container wires it (src/infrastructure/wiring/chat.py), over fakes.
        chat = build_chat(
            uow=self.uow,
            clock=clock,
            models=models,
            streams=self.streams,
            events=self.events,
            stops=self.stops,
            tasks=self.tasks,
            settings=self.settings,
            excerpt_chars=300,
            ends=self.reply_ends,
            starts=self.reply_starts,
        )
        self.chat = chat
        self.send, self.regenerate = chat.send_message, chat.regenerate_reply
        self.stop, self.resume = chat.stop_reply, chat.resume_reply_stream
        self.create, self.list, self.get = chat.create_conversation, chat.list_conversations, chat.get_conversation
        self.update, self.delete = chat.update_conversation, chat.delete_conversation
        self.export, self.list_messages = chat.export_conversation, chat.list_messages
        self.title, self.summarize_job = chat.title_conversation, chat.summarize_conversation
        self.recover = chat.recover_stale_replies
        #: A recovery of its own, for tests that build a use case over other streams.
        self.recovery = ReplyRecovery(self.uow, self.catalog, self.streams, clock)
        usage = build_usage(uow=self.uow, budgets=BUDGETS, clock=clock)
        self.usage, self.get_budget, self.set_budget = usage.get_usage, usage.get_user_budget, usage.set_user_budget
        self.me = principal()

    def add_user(self, who: Principal) -> None:
        now = self.clock.now()
        self.db.identity.users[who.user_id] = User(
            id=who.user_id,
            email=f"{who.user_id}@example.com",
            display_name="User",
            password_hash="x",
            role=who.role,
            tier=who.tier,
            is_active=True,
            created_at=now,
            updated_at=now,
        )

    async def conversation(self, who: Principal | None = None, **settings: object) -> ConversationView:
        return await self.create(who or self.me, CreateConversationCommand(**settings))  # type: ignore[arg-type]

    async def say(
        self,
        content: str = "Hello there",
        *,
        conversation_id: uuid.UUID | None = None,
        who: Principal | None = None,
        model: str | None = None,
    ) -> ReplyHandle:
        return await self.send(
            who or self.me, SendMessageCommand(content, conversation_id=conversation_id, model=model)
        )

    async def exchange(self, content: str, conversation_id: uuid.UUID, **kwargs: object) -> ReplyHandle:
        handle = await self.say(content, conversation_id=conversation_id, **kwargs)  # type: ignore[arg-type]
        await handle.outcome()
        self.clock.advance(3)  # one AI request every 3 s stays within the free tier's 20 a minute
        return handle

    @property
    def messages(self) -> list:  # type: ignore[type-arg]
        return sorted(self.db.chat.messages.values(), key=lambda m: (m.conversation_id, m.seq))


async def collect(events: AsyncIterator[ReplyEvent], timeout: float = 5) -> list[ReplyEvent]:
    async def run() -> list[ReplyEvent]:
        return [event async for event in events]

    return await asyncio.wait_for(run(), timeout)


@pytest.fixture
def world() -> ChatWorld:
    return ChatWorld()
