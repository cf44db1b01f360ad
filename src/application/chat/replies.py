"""What starting a reply takes, shared by ``SendMessage`` and ``RegenerateReply``.

Both check the caller's AI rate limit and budget before any model is called, take the
conversation's reply lock (one reply at a time, across instances), read the history that fits the
conversation's context cap with its running summary (``reply_context.py``), retrieve the passages of a
grounded conversation (``passages``) and build the prompt (``prompt``), then hand the reply to a
process-owned task and return a ``ReplyHandle`` at once. A send may be planned ahead of any transaction
(``plan_ahead``, on PostgreSQL); the plan is then the same, its rows stored by one statement.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from src.application.ai.chat_guard import ChatSafetyGuard
from src.application.ai.pii_stream import ChatPiiPolicy, PiiReplyFilter
from src.application.chat.generation import ReplyGenerator
from src.application.chat.ports import (
    KnowledgeRetriever,
    ReplyEvent,
    ReplyStreamStore,
    ReplyTasks,
    ReplyTransaction,
    UserEvent,
    UserEvents,
)
from src.application.chat.recovery import announce, interrupt_stale_reply
from src.application.chat.reply_context import ReplyContext
from src.application.chat.reply_job import ReplyJob
from src.application.chat.reply_plan import ClaimedReply, ReplyPlan
from src.application.chat.reply_statements import ReplyStart, ReplyStarts
from src.application.chat.settings import ReplySettings
from src.application.chat.views import ConversationView, MessageView, ReplyHandle
from src.application.llm.ports import ModelCatalog
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.application.usage.budget import budget_status_of, within_budget
from src.domain.chat.errors import ReplyInProgress
from src.domain.chat.grounding import GroundedPrompt, Passage, ground_prompt
from src.domain.chat.model import Conversation, Message
from src.domain.identity.model import Principal
from src.domain.llm.model import ChatRequest, ModelInfo, PromptMessage, Usage, estimate_prompt_tokens
from src.domain.usage.model import TierBudgets

T = TypeVar("T")


class ReplyLauncher:
    def __init__(
        self,
        *,
        generator: ReplyGenerator,
        catalog: ModelCatalog,
        streams: ReplyStreamStore,
        events: UserEvents,
        tasks: ReplyTasks,
        budgets: TierBudgets,
        clock: Clock,
        settings: ReplySettings,
        retriever: KnowledgeRetriever | None = None,
        pii: ChatPiiPolicy | None = None,
        guard: ChatSafetyGuard | None = None,
        starts: ReplyStarts | None = None,
    ) -> None:
        self._catalog = catalog
        #: A send's reads and write with no transaction, where the database has them (``plan_ahead``).
        self.starts = starts
        self._clock = clock
        self._settings = settings
        self._generator = generator
        self._streams = streams
        self._events = events
        self._tasks = tasks
        self._budgets = budgets
        self._retriever = retriever
        #: ``PII_REDACTION``: what of the prompt the provider sees, and the filter replies go through.
        self._pii = pii
        #: ``PROMPT_INJECTION_POLICY``: ``safety`` on the streamed user message, flagged passages queued.
        self._guard = guard
        #: The history a reply sends: the context cap and the running summary.
        self._context = ReplyContext(settings)
        #: ``reply_started`` publications under way (``launch`` does not wait for them).
        self._publishing: set[asyncio.Future[None]] = set()

    def lease_until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self._settings.lease_seconds)

    async def prepare(
        self, tx: ReplyTransaction, principal: Principal, conversation: Conversation, now: datetime
    ) -> int:
        """Before claiming: the budget, and a lock left behind by a dead instance. The user's monthly
        budget in micro-dollars (the reply's charge raises a budget alert only near it)."""
        status = await budget_status_of(tx, principal, self._budgets, now)
        status.ensure_not_exceeded(now)
        stale = conversation.generating_message_id
        if stale is not None and not conversation.reply_in_progress(now):
            interrupted = await interrupt_stale_reply(
                tx, conversation, stale, now=now, catalog=self._catalog, streams=self._streams
            )
            await announce(self._streams, interrupted)
        return status.budget_micros

    async def claim(
        self, tx: ReplyTransaction, conversation: Conversation, *, seqs: int, token_delta: int, now: datetime
    ) -> ClaimedReply:
        """Take ``conversation``'s reply lock for a new reply, reserving ``seqs`` message numbers and adding
        ``token_delta`` to its token total; 409 ``reply_in_progress`` when another reply holds it."""
        reply_id = new_id(now)
        claim = await tx.conversations.claim_reply(
            conversation.id, reply_id, seqs=seqs, token_delta=token_delta, now=now, lease_until=self.lease_until(now)
        )
        if claim is None:
            raise self.in_progress_error(conversation)
        return ClaimedReply(reply_id, claim.first_seq, claim.token_total)

    def in_progress_error(self, conversation: Conversation) -> ReplyInProgress:
        """The error refusing a second reply while ``conversation``'s is generating (the caller raises it)."""
        extra = {"message_id": str(conversation.generating_message_id)} if conversation.generating_message_id else {}
        return ReplyInProgress("wait for the reply being generated to end, or stop it", extra=extra)

    async def passages(
        self, tx: ReplyTransaction, principal: Principal, conversation: Conversation, text: str
    ) -> list[Passage]:
        """The passages of the user's knowledge for ``text`` when the conversation is grounded (none
        otherwise), from the knowledge indexes, in the use case's transaction."""
        if conversation.grounding is None or self._retriever is None:
            return []
        return await self._retriever.retrieve(
            tx, principal, text, conversation.grounding, self._settings.grounding_passages
        )

    def prompt(
        self,
        conversation: Conversation,
        model: ModelInfo,
        history: Sequence[PromptMessage],
        passages: Sequence[Passage],
    ) -> GroundedPrompt:
        """The system prompt, the passages that fit, and the latest of ``history`` that fit the window."""
        return ground_prompt(
            self._context.system_text(conversation, model),
            [m for m in history if m.content],
            passages,
            context_window=model.context_window,
            max_output_tokens=model.max_output_tokens,
        )

    async def plan(
        self,
        tx: ReplyTransaction,
        principal: Principal,
        conversation: Conversation,
        model: ModelInfo,
        user_message: Message,
        claimed: ClaimedReply,
        *,
        now: datetime,
        created_conversation: bool = False,
        budget_micros: int | None = None,
        store_user_message: bool = False,
        start_call: bool = False,
    ) -> ReplyPlan:
        """Inside the use case's transaction, once the reply lock is held: read the history that fits,
        retrieve the grounding passages (anew on every reply: the knowledge or the conversation's
        grounding may have changed), build the prompt and store the reply's placeholder row.

        With ``store_user_message``, ``user_message`` is new (not stored yet): the history is read up to
        the message before it, which ends it, and both rows are stored together, in one round trip (the
        user's message has the claim's first message number, the reply the next).
        With ``start_call``, the model is called before the rows are stored (``early_call.py``): the caller
        ``abandon``s the plan when its transaction fails."""
        token_total = claimed.token_total
        history = await self._context.read(
            tx.messages,
            conversation,
            model,
            token_total=token_total,
            up_to_seq=user_message.seq - 1 if store_user_message else user_message.seq,
            latest_start=user_message.token_start if user_message.token_start is not None else token_total,
        )
        await self._context.request_summary(tx, conversation, model, token_total=token_total, now=now)
        passages = await self.passages(tx, principal, conversation, user_message.content)
        plan = self._assemble(
            conversation,
            model,
            user_message,
            claimed,
            history,
            passages,
            now=now,
            created_conversation=created_conversation,
            budget_micros=budget_micros,
            store_user_message=store_user_message,
            start_call=start_call,
        )
        await self._stopped_on_failure(
            plan, tx.messages.add_all([user_message, plan.reply] if store_user_message else [plan.reply])
        )
        return plan

    async def plan_ahead(
        self,
        start: ReplyStart,
        conversation: Conversation,
        model: ModelInfo,
        user_message: Message,
        claimed: ClaimedReply,
        *,
        now: datetime,
        budget_micros: int,
    ) -> ReplyPlan | None:
        """A send's plan with no transaction (``start``, of ``ReplyStarts``), its conversation read ahead with
        the lock free (``ahead``) and ``claimed`` computed from it: read the context, call the model, then
        claim the lock and store both rows in one statement. ``None`` when the conversation changed since it
        was read (nothing was stored, the call is stopped): the caller plans the send in a unit of work
        instead."""
        history = await self._context.read(
            start,
            conversation,
            model,
            token_total=claimed.token_total,
            up_to_seq=user_message.seq - 1,
            latest_start=user_message.token_start or 0,
        )
        plan = self._assemble(
            conversation, model, user_message, claimed, history, [], now=now, budget_micros=budget_micros,
            store_user_message=True, start_call=True,
        )  # fmt: skip
        stored = await self._stopped_on_failure(
            plan,
            start.claim_and_store(
                conversation,
                claimed.reply_id,
                [user_message, plan.reply],
                token_delta=user_message.token_count or 0,
                now=now,
                lease_until=self.lease_until(now),
            ),
        )
        if not stored:
            await self.abandon(plan)
            return None
        return plan

    def ahead(self, conversation: Conversation, model: ModelInfo, *, token_total: int, now: datetime) -> bool:
        """Whether a send to ``conversation`` (read with no transaction) may be planned ahead
        (``plan_ahead``, on a database with ``ReplyStarts``): its lock free, not grounded (the passages
        are read in a transaction), and no summary update to queue. 409 ``reply_in_progress`` when a reply
        holds the lock; ``False`` for a lock a dead instance left (a transaction interrupts that reply)."""
        if conversation.generating_message_id is not None:
            if conversation.reply_in_progress(now):
                raise self.in_progress_error(conversation)
            return False
        if conversation.grounding is not None:
            return False
        return self._context.summary_threshold(conversation, model, token_total=token_total, now=now) is None

    def within_budget(self, principal: Principal, budget_micros: int | None, spent_micros: int, now: datetime) -> int:
        """``prepare``'s budget check on figures read ahead (``ReplyStarts.read``); the month's budget."""
        return within_budget(principal, self._budgets, custom_micros=budget_micros, spent_micros=spent_micros, now=now)

    def _assemble(
        self,
        conversation: Conversation,
        model: ModelInfo,
        user_message: Message,
        claimed: ClaimedReply,
        history: list[PromptMessage],
        passages: Sequence[Passage],
        *,
        now: datetime,
        created_conversation: bool = False,
        budget_micros: int | None = None,
        store_user_message: bool = False,
        start_call: bool = False,
    ) -> ReplyPlan:
        """The prompt of ``history`` and ``passages``, the reply's placeholder row (not stored), and with
        ``start_call`` the model called."""
        reply_id, token_total = claimed.reply_id, claimed.token_total
        reply_seq = claimed.first_seq + 1 if store_user_message else claimed.first_seq
        if store_user_message:
            history.append(
                PromptMessage(user_message.role, user_message.content, tokens=user_message.token_count or None)
            )
        prompt = self.prompt(conversation, model, history, passages)
        reply = Message.placeholder_reply(
            id=reply_id, conversation=conversation, seq=reply_seq, model=model.id, now=now, citations=prompt.citations
        )
        # What the prompt costs, kept on the row: if this instance dies mid-reply, recovery charges it.
        reply.usage = Usage(input_tokens=estimate_prompt_tokens(prompt.messages), output_tokens=0, estimated=True)
        request, text_filter, call = None, None, None
        if start_call:
            request, text_filter = self.request(conversation, model, prompt)
            call = self._generator.start_call(request)
        return ReplyPlan(
            conversation=conversation,
            user_message=user_message,
            reply=reply,
            model=model,
            prompt=prompt,
            token_start=token_total,
            request_title=conversation.title is None and conversation.title_requested_at is None,
            created_conversation=created_conversation,
            budget_micros=budget_micros,
            call=call,
            request=request,
            text_filter=text_filter,
        )

    def request(
        self, conversation: Conversation, model: ModelInfo, prompt: GroundedPrompt
    ) -> tuple[ChatRequest, PiiReplyFilter | None]:
        """What the model is asked (the prompt as ``PII_REDACTION`` lets it go), and the filter its text
        goes through before the user sees it."""
        messages, text_filter = self._pii.prepare(prompt.messages) if self._pii is not None else (prompt.messages, None)
        request = ChatRequest(
            messages=messages,
            model=model.id,
            temperature=conversation.temperature,
            max_output_tokens=model.max_output_tokens,
            deadline=self._clock.monotonic() + self._settings.timeout_seconds,
        )
        return request, text_filter

    async def _stopped_on_failure(self, plan: ReplyPlan, write: Awaitable[T]) -> T:
        """``write`` (the plan's rows), the model call ``plan`` started stopped when it fails."""
        try:
            return await write
        except BaseException:
            await self.abandon(plan)
            raise

    async def abandon(self, plan: ReplyPlan | None) -> None:
        """The transaction ``plan`` was made in failed: stop the model call it started, if any."""
        if plan is not None and plan.call is not None:
            await plan.call.cancel()

    async def planned(
        self,
        uow: UnitOfWorkFactory[ReplyTransaction],
        decide: Callable[[ReplyTransaction], Awaitable[ReplyPlan]],
    ) -> ReplyPlan:
        """The use case's transaction: ``decide`` (ending with ``plan(..., start_call=True)``) in a unit
        of work of ``uow``, committed. The model call the plan started is stopped when the transaction
        fails, its commit included (``abandon``)."""
        plan: ReplyPlan | None = None
        try:
            async with uow() as tx:
                plan = await decide(tx)
            return plan  # noqa: RET504 - once committed: the commit may fail too
        except BaseException:
            await self.abandon(plan)
            raise

    async def launch(self, plan: ReplyPlan, started_at: float) -> ReplyHandle:
        try:
            job, message_event = await self._job(plan, started_at)
            # The early call's first delta, when it has arrived, goes into the stream now, after the
            # user's message: the response about to start sends both at once (``ReplyHandle.shown``).
            state, first_deltas = await self._generator.start(job)
        except BaseException:
            await self.abandon(plan)  # nothing was spawned: the call started in ``plan`` would run on
            raise
        conversation, model, reply_id, user_view = plan.conversation, plan.model, job.message_id, job.user_message
        now = self._clock.now()
        shown = replace(conversation, generating_message_id=reply_id, generating_until=self.lease_until(now))
        # The user's other clients are told (a Redis round trip with Redis) without the caller waiting
        # for it: the reply's stream (an SSE response) starts at once. The publication is scheduled
        # before the reply's task, and tasks start in the order they are scheduled: the task's own
        # events (``reply_finished``) still come after it.
        self._background(
            self._events.publish(
                UserEvent(
                    type="reply_started",
                    user_id=conversation.user_id,
                    data={
                        "conversation_id": str(conversation.id),
                        "message_id": str(reply_id),
                        "user_message": user_view.to_json(),
                        "model": model.id,
                    },
                )
            )
        )
        outcome = self._tasks.spawn(reply_id, self._generator.run(job, state))
        return ReplyHandle(
            conversation=ConversationView.of(shown, now),
            user_message=user_view,
            message_id=reply_id,
            created_conversation=plan.created_conversation,
            _outcome=outcome,
            _follow=lambda after: self.follow(reply_id, after),
            shown=(message_event, *first_deltas),
        )

    async def _job(self, plan: ReplyPlan, started_at: float) -> tuple[ReplyJob, ReplyEvent]:
        """The reply task's job, once the stream's first event (the user's message) is appended; and
        that event."""
        conversation, model = plan.conversation, plan.model
        if plan.request is not None:
            request, text_filter = plan.request, plan.text_filter
        else:
            request, text_filter = self.request(conversation, model, plan.prompt)
        reply_id = plan.reply.id
        user_view = MessageView.of(plan.user_message)
        if self._guard is not None:
            user_view = replace(user_view, safety=self._guard.safety_of(plan.user_message.content))
            await self._guard.report_passages(conversation.user_id, plan.prompt.passages)
        # The stream starts with the user message, before the task can append anything.
        message_event = ReplyEvent(id=1, kind="message", data=user_view.to_json())
        await self._streams.append(reply_id, message_event)
        job = ReplyJob(
            user_id=conversation.user_id,
            conversation_id=conversation.id,
            message_id=reply_id,
            reply_seq=plan.reply.seq,
            reply_created_at=plan.reply.created_at,
            user_message=user_view,
            request=request,
            model=model.id,
            token_start=plan.token_start,
            citations=plan.reply.citations,
            first_event_id=2,
            request_title=plan.request_title,
            started_at=started_at,
            text_filter=text_filter,
            budget_micros=plan.budget_micros,
            call=plan.call,
        )
        return job, message_event

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._publishing.add(task)  # a reference until it is done (the loop keeps only weak ones)
        task.add_done_callback(self._published)

    def _published(self, task: asyncio.Future[None]) -> None:
        self._publishing.discard(task)
        if not task.cancelled():
            task.exception()  # ``publish`` never raises (best effort); retrieved all the same

    def follow(self, reply_id: uuid.UUID, after: int) -> AsyncIterator[ReplyEvent]:
        return self._streams.follow(reply_id, after=after, idle_timeout=self._settings.stream_idle_timeout_seconds)
