"""ReplyGenerator: the body of the task that writes one assistant reply.

It reads the model's stream and, for every piece of text, appends a ``delta`` event to the reply
stream (which every reader follows). Apart from that, its ``ProgressWriter`` writes the text so far to
the assistant message row every ``flush_interval_seconds`` and renews the conversation's reply lock. When the model
ends (or fails, or a stop is requested, or the process shuts down) it stores the reply in full,
charges its usage once, frees the conversation, and appends the terminal ``done`` or ``error`` event.
When the database is away at that moment, the final write is tried again with backoff (the whole text
is in memory) for up to the reply's lease; readers get the end once it is stored.

It runs in a task the process owns (``ReplyTasks``), never in a request: a client that disconnects
changes nothing here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from src.application.chat.early_call import StartedCall
from src.application.chat.jobs import TITLE_JOB
from src.application.chat.ports import (
    ChargedChatTransaction,
    ReplyEvent,
    ReplyEventKind,
    ReplyStreamStore,
    StopSignals,
    UserEvent,
    UserEvents,
)
from src.application.chat.progress_writer import ProgressWriter
from src.application.chat.recovery import reply_cost, usage_record_for
from src.application.chat.reply_job import (
    IncompleteStream,
    LockLost,
    ReplyInterrupted,
    ReplyJob,
    ReplyProgress,
    ReplyTimedOut,
)
from src.application.chat.reply_statements import ReplyEnds
from src.application.chat.settings import ReplySettings
from src.application.chat.views import MessageView, ReplyOutcome
from src.application.llm.ports import ChatModel, ModelCatalog
from src.application.shared.events import record_event
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.application.usage.budget import charge_alert, record_charge_if_near_budget
from src.domain.chat.context import message_tokens
from src.domain.chat.events import ReplyFailed
from src.domain.chat.grounding import mark_cited
from src.domain.chat.model import Message, MessageStatus
from src.domain.llm.errors import ProviderError
from src.domain.llm.model import (
    ChatRequest,
    FinishReason,
    MessageRole,
    StreamEnd,
    TextDelta,
    Usage,
    estimate_usage,
)
from src.domain.shared.errors import DomainError, ServiceUnavailable

#: Backoff of the final write while the database is away: 0.25 s, 0.5 s, 1 s, ... at most 4 s apart.
STORE_RETRY_FIRST_SECONDS = 0.25
STORE_RETRY_MAX_SECONDS = 4.0


class ReplyGenerator:
    def __init__(
        self,
        uow: UnitOfWorkFactory[ChargedChatTransaction],
        model: ChatModel,
        catalog: ModelCatalog,
        streams: ReplyStreamStore,
        stops: StopSignals,
        events: UserEvents,
        clock: Clock,
        settings: ReplySettings,
        *,
        ends: ReplyEnds | None = None,
    ) -> None:
        self._uow = uow
        #: A reply's end in one statement, where the database has it (``_store``).
        self._ends = ends
        self._model = model
        self._catalog = catalog
        self._streams = streams
        self._stops = stops
        self._events = events
        self._clock = clock
        self._settings = settings

    async def start(self, job: ReplyJob) -> tuple[ReplyProgress, list[ReplyEvent]]:
        """The reply's progress before its task runs: with an early call whose first chunk has arrived
        (``StartedCall.take_first_delta``), that delta is in the reply's stream already. Its readers
        get it with the user's message, not after the reply's task has started and read the rest of
        what the provider sent at once (a loop turn or two, and a burst of chunks, later). The events it
        showed come with it."""
        state = ReplyProgress(next_event_id=job.first_event_id)
        shown: list[ReplyEvent] = []
        if job.call is not None and (delta := job.call.take_first_delta()) is not None:
            event = await self._delta(job, state, delta)
            if event is not None:
                shown.append(event)
        return state, shown

    async def run(self, job: ReplyJob, state: ReplyProgress | None = None) -> ReplyOutcome:
        """Write the reply: read the model, show its deltas, keep the text so far, store and charge the
        end. ``state``: from ``start`` (a new one otherwise)."""
        if state is None:
            state = ReplyProgress(next_event_id=job.first_event_id)
        consumer = asyncio.ensure_future(self._consume(job, state))
        progress = ProgressWriter(self._uow, self._clock, self._settings, job, state, lock_lost=consumer.cancel)
        progress.start()
        interrupted = False

        def stop() -> None:
            state.stop_requested = True
            consumer.cancel()

        try:
            with self._stops.watch(job.message_id, stop):
                await consumer
        except asyncio.CancelledError:
            # The process is shutting down (a stop cancels only the consumer, which returns normally).
            interrupted = True
            consumer.cancel()
            with contextlib.suppress(BaseException):
                await consumer
        finally:
            # Not cancelled: a progress write under way completes (its transaction ends cleanly).
            state.ended.set()
            await progress.stop()
            if job.call is not None:  # cancelled before the consumer read it: the call still runs
                with contextlib.suppress(BaseException):
                    await job.call.cancel()
        if interrupted and state.failure is None and state.end is None:
            state.failure = ReplyInterrupted("the server stopped while writing this reply")
        # Stored even when the process is going down: the shield lets the write finish.
        outcome = await asyncio.shield(self._finish(job, state, interrupted=interrupted))
        if interrupted:
            raise asyncio.CancelledError
        return outcome

    # -- reading the model ------------------------------------------------------------------------

    def start_call(self, request: ChatRequest) -> StartedCall:
        """Call the model now, for a reply launched later with the call in its job (``early_call.py``)."""
        return StartedCall(self._model.stream(request))

    async def _consume(self, job: ReplyJob, state: ReplyProgress) -> None:
        stream = job.call.chunks() if job.call is not None else self._model.stream(job.request)
        first = state.next_event_id == job.first_event_id  # no delta shown at the launch
        try:
            async with asyncio.timeout(self._settings.timeout_seconds):
                async for chunk in stream:
                    if isinstance(chunk, TextDelta):
                        if await self._delta(job, state, chunk) is not None and first:
                            # Its readers, woken by the append, send the first delta before the task
                            # reads on (chunks that came at once would all be read, the end stored, first).
                            first = False
                            await asyncio.sleep(0)
                    elif isinstance(chunk, StreamEnd):
                        state.end = chunk
                        break
        except asyncio.CancelledError:
            if state.stop_requested or state.lock_lost:
                state.stopped = state.stop_requested
                return
            raise
        except TimeoutError:
            state.failure = ReplyTimedOut(f"no complete answer within {self._settings.timeout_seconds:g} s")
        except DomainError as exc:
            state.failure = exc
        except Exception as exc:  # noqa: BLE001 - an adapter bug must still end the reply cleanly
            state.failure = ProviderError(f"the model failed unexpectedly ({type(exc).__name__})")
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def _delta(self, job: ReplyJob, state: ReplyProgress, chunk: TextDelta) -> ReplyEvent | None:
        """A delta of the model's text: kept, and shown through the reply's text filter (the event, when
        the filter let anything through)."""
        if not chunk.text:
            return None
        if state.first_delta_at is None:
            state.first_delta_at = self._clock.monotonic()
        text = chunk.text if job.text_filter is None else job.text_filter.feed(chunk.text)
        if not text:
            return None
        state.parts.append(text)
        state.chars += len(text)
        return await self._emit(job, state, "delta", {"text": text})

    async def _emit(
        self, job: ReplyJob, state: ReplyProgress, kind: ReplyEventKind, data: Mapping[str, Any]
    ) -> ReplyEvent:
        event = ReplyEvent(id=state.next_event_id, kind=kind, data=data)
        state.next_event_id += 1
        with contextlib.suppress(Exception):  # the stores are best effort; the row keeps the text
            await self._streams.append(job.message_id, event)
        return event

    # -- the end ----------------------------------------------------------------------------------

    async def _finish(self, job: ReplyJob, state: ReplyProgress, *, interrupted: bool = False) -> ReplyOutcome:
        now = self._clock.now()
        if job.text_filter is not None:
            tail = job.text_filter.finish()  # the held-back end of the text
            if tail:
                state.parts.append(tail)
                state.chars += len(tail)
                await self._emit(job, state, "delta", {"text": tail})
        text = state.text
        if state.lock_lost:
            state.failure = LockLost("the conversation was taken over after this reply's lease ran out")
        if not text and state.end is None and not state.stopped:
            # The model failed before writing anything: there is no reply to keep.
            error = state.failure or IncompleteStream()
            with contextlib.suppress(Exception):
                async with self._uow() as tx:
                    message = await tx.messages.get(job.message_id)
                    if message is not None and message.status is MessageStatus.GENERATING:
                        await tx.messages.delete(job.message_id)
                    # The question stays, marked as unanswered: clients show it failed and offer a retry.
                    await tx.messages.mark_unanswered(job.user_message.id, error.code)
                    await tx.conversations.release_reply(job.conversation_id, job.message_id, token_total=None, now=now)
                    await record_event(
                        tx,
                        ReplyFailed(
                            event_id=new_id(now),
                            occurred_at=now,
                            user_id=job.user_id,
                            conversation_id=job.conversation_id,
                            message_id=job.message_id,
                            error_code=error.code,
                        ),
                    )
            await self._emit(job, state, "error", {"code": error.code, "detail": error.detail, "message": None})
            await self._close(job, FinishReason.ERROR)
            return ReplyOutcome(message=None, error=error)

        finish_reason, usage, error_code = self._ending(job, state, text)
        end = state.end
        provider, model = (end.provider, end.model_id) if end is not None else (job.model.partition("/")[0], job.model)
        elapsed_ms = round((self._clock.monotonic() - job.started_at) * 1000)
        ttft_ms = round((state.first_delta_at - job.started_at) * 1000) if state.first_delta_at is not None else None
        message = Message(
            id=job.message_id,
            conversation_id=job.conversation_id,
            user_id=job.user_id,
            seq=job.reply_seq,
            role=MessageRole.ASSISTANT,
            content=text,
            status=MessageStatus.COMPLETE,
            created_at=job.reply_created_at,
            updated_at=now,
            model=model,
            provider=provider,
            finish_reason=finish_reason,
            usage=usage,
            cost_micros=reply_cost(self._catalog, model, usage),
            latency_ms=elapsed_ms,
            ttft_ms=ttft_ms,
            error_code=error_code,
            citations=mark_cited(job.citations, text),
            token_start=job.token_start,
            token_count=message_tokens(text),
            # The terminal event's id: a reader arriving after the stream expired gets it from the row.
            last_event_id=state.next_event_id,
        )
        try:
            stored = await self._store_with_retries(job, message, finish_reason, retry=not interrupted)
        except Exception:  # noqa: BLE001 - the database stayed away: readers must still see the end
            # The row stays "generating" with the text last written; once the lease runs out the
            # stale-reply recovery stores it as interrupted (and charges it) with the whole text the
            # reply stream holds, so nothing is stuck and nothing the readers saw is lost.
            unstored = ServiceUnavailable("the reply could not be stored; it will be kept as interrupted")
            await self._emit(job, state, "error", {"code": unstored.code, "detail": unstored.detail, "message": None})
            await self._close(job, FinishReason.ERROR)
            return ReplyOutcome(message=None, error=unstored)
        view = MessageView.of(stored)
        if finish_reason is FinishReason.ERROR:
            failure = state.failure
            code = error_code or "provider_error"
            detail = failure.detail if failure is not None else (end.error_detail if end else None) or code
            await self._emit(job, state, "error", {"code": code, "detail": detail, "message": view.to_json()})
        else:
            await self._emit(job, state, "done", view.to_json())
        await self._close(job, finish_reason)
        return ReplyOutcome(message=view, error=None)

    def _ending(self, job: ReplyJob, state: ReplyProgress, text: str) -> tuple[FinishReason, Usage, str | None]:
        end = state.end
        estimated = estimate_usage(job.request.messages, text)
        if state.stopped:
            return FinishReason.CANCELLED, estimated, None
        if state.failure is not None:
            return FinishReason.ERROR, estimated, state.failure.code
        if end is None:
            state.failure = IncompleteStream()
            return FinishReason.ERROR, estimated, IncompleteStream.code
        usage = end.usage
        if usage.input_tokens == 0 and usage.output_tokens == 0 and text:
            usage = estimated  # the provider reported no usage: count it ourselves, and say so
        error_code = end.error_code if end.finish_reason is FinishReason.ERROR else None
        if end.finish_reason is FinishReason.ERROR and error_code is None:
            error_code = "provider_error"
        return end.finish_reason, usage, error_code

    async def _store_with_retries(
        self, job: ReplyJob, message: Message, finish_reason: FinishReason, *, retry: bool
    ) -> Message:
        """``_store``, tried again with backoff while the database is away, for up to the reply's
        lease (after that the stale-reply recovery may finish it instead, from the reply stream).
        A stopping process (``retry`` false) tries once: its shutdown must not wait on the database."""
        budget = self._settings.lease_seconds if retry else 0.0
        delay = STORE_RETRY_FIRST_SECONDS
        waited = 0.0
        while True:
            try:
                return await self._store(job, message, finish_reason)
            except Exception:
                if waited + delay > budget:
                    raise
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, STORE_RETRY_MAX_SECONDS)

    async def _store(self, job: ReplyJob, message: Message, finish_reason: FinishReason) -> Message:
        """Store the reply and charge it, in one transaction, exactly once.

        With ``ReplyEnds``, a reply that raises no event but a budget alert (not a failure, not the first of
        its conversation, whose title is then asked for) ends in one statement; when its final write did not
        apply (another finisher stored it first, or the conversation was deleted), it then goes on here as
        it would have, the statement having written nothing."""
        now = message.updated_at
        token_total = job.token_start + message.token_count
        if self._ends is not None and finish_reason is not FinishReason.ERROR and not job.request_title:
            record = usage_record_for(message, now=now, requested_model=job.model)
            alert = charge_alert(
                user_id=message.user_id, cost_micros=message.cost_micros, budget_micros=job.budget_micros, now=now
            )
            if await self._ends.finish_and_charge(message, token_total=token_total, record=record, alert=alert):
                return message
        async with self._uow() as tx:
            # The final write and the release of the conversation's reply lock together (when it won).
            won = await tx.messages.finish_and_release(message, token_total=token_total, now=now)
            existing = None if won else await tx.messages.get(message.id)
            if won or existing is None:
                # Won, or the conversation was deleted meanwhile: the tokens were spent either way.
                spent = await tx.usage.record_and_total(usage_record_for(message, now=now, requested_model=job.model))
                await _record_reply_events(
                    tx, message, finish_reason, now, budget_micros=job.budget_micros, spent_micros=spent
                )
            if won:
                wants_title = job.request_title and message.content and finish_reason is not FinishReason.ERROR
                if wants_title and await tx.conversations.mark_title_requested(job.conversation_id, now=now):
                    await tx.outbox.add(TITLE_JOB, {"conversation_id": str(job.conversation_id)})
        if existing is not None:
            return existing  # another finisher (stale-reply recovery) stored it first
        return message

    async def _close(self, job: ReplyJob, finish_reason: FinishReason) -> None:
        with contextlib.suppress(Exception):
            await self._streams.close(job.message_id)
        await self._events.publish(
            UserEvent(
                type="reply_finished",
                user_id=job.user_id,
                data={
                    "conversation_id": str(job.conversation_id),
                    "message_id": str(job.message_id),
                    "finish_reason": finish_reason.value,
                },
            )
        )


async def _record_reply_events(
    tx: ChargedChatTransaction,
    message: Message,
    finish_reason: FinishReason,
    now: datetime,
    *,
    budget_micros: int | None,
    spent_micros: int,
) -> None:
    """The charge, when it brings the month to a budget-alert threshold (every paid reply raised it before:
    an outbox message, a relay round and a job with its own transaction, ~10 % of a reply's CPU), and, for
    a failed reply, the failure the user hears of."""
    await record_charge_if_near_budget(
        tx,
        user_id=message.user_id,
        cost_micros=message.cost_micros,
        budget_micros=budget_micros,
        now=now,
        spent_micros=spent_micros,
    )
    if finish_reason is FinishReason.ERROR:
        await record_event(
            tx,
            ReplyFailed(
                event_id=new_id(now),
                occurred_at=now,
                user_id=message.user_id,
                conversation_id=message.conversation_id,
                message_id=message.id,
                error_code=message.error_code or "provider_error",
            ),
        )
