"""CompleteChat: one stateless chat completion, the use case of the OpenAI-compatible gateway.

The caller sends the whole prompt (no conversation is read). Like a chat reply, the call counts
against the caller's AI requests per minute and is refused when the month's budget is spent, both
before any model is called; the model router answers (retries, fallbacks and circuit breakers before
the first chunk); and what the call used is charged once, with the user and the API key, in one
write after the answer (the ``UsageLedger``'s group commit when it is given). ``store`` saves the
exchange as a new conversation, in the same transaction as its usage record.

Streams: ``stream`` returns once the first chunk is there (a failure of every model of the chain is
raised before anything was sent, so the front door can still answer with an error status). The front
door relays ``CompletionStream.deltas()`` and always ends with ``settle()``: it closes the upstream
call if the stream was left early (a client that went away) and charges what was generated, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from src.application.chat.access import require_chat
from src.application.chat.ports import ChargedChatTransaction
from src.application.chat.recovery import reply_cost
from src.application.chat.stored_exchange import store_exchange
from src.application.llm.ports import ChatModel, ModelCatalog
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.application.usage.ai_requests import AiRequestLimiter
from src.application.usage.budget import UnitOfWorkBudgetReader, check_budget, record_charge_if_near_budget
from src.application.usage.ledger import UsageLedger
from src.application.usage.ports import BudgetReader
from src.domain.identity.model import Principal
from src.domain.llm.errors import ProviderError, UnknownModel
from src.domain.llm.model import (
    ChatRequest,
    Chunk,
    FinishReason,
    ModelInfo,
    PromptMessage,
    StreamEnd,
    TextDelta,
    Usage,
    estimate_prompt_tokens,
    estimate_usage,
    short_aliases,
)
from src.domain.shared.errors import InvalidInput
from src.domain.usage.model import TierBudgets, UsageKind, UsageRecord

#: The longest a gateway call may take, retries and fallbacks included, unless configured otherwise.
DEFAULT_TIMEOUT_SECONDS = 300.0
MAX_STOP_SEQUENCES = 4


class InvalidCompletionRequest(InvalidInput):
    """A parameter out of range (``extra["param"]`` names it)."""

    code = "invalid_completion_request"
    title = "Invalid chat completion request"


class PromptTooLong(InvalidInput):
    code = "context_length_exceeded"
    title = "The messages do not fit the model's context window"


@dataclass(frozen=True, slots=True)
class CompleteChatCommand:
    #: A catalog id (``openai/gpt-4.1-mini``) or an unambiguous short name (``gpt-4.1-mini``).
    model: str
    messages: tuple[PromptMessage, ...]
    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    response_format: Mapping[str, Any] | None = None
    #: Save the exchange as a conversation of the caller's.
    store: bool = False


@dataclass(frozen=True, slots=True)
class CompletionResult:
    """What a call produced and was charged."""

    text: str
    finish_reason: FinishReason
    usage: Usage
    #: The model that answered (``provider/model``): a fallback's when the asked one failed.
    model: str
    cost_micros: int
    #: Seconds spent waiting for the model (the front door's ``Server-Timing`` leaves them out).
    provider_seconds: float
    #: Set when the stream failed after its first chunk (the text so far stands and was charged).
    error_code: str | None = None
    error_detail: str | None = None
    conversation_id: uuid.UUID | None = None


class CompleteChat:
    def __init__(
        self,
        uow: UnitOfWorkFactory[ChargedChatTransaction],
        model: ChatModel,
        catalog: ModelCatalog,
        *,
        limiter: AiRequestLimiter,
        budgets: TierBudgets,
        clock: Clock,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        ledger: UsageLedger | None = None,
        budget_reader: BudgetReader | None = None,
    ) -> None:
        """``ledger`` writes the usage of calls that store nothing else (group commit); without it,
        each call writes its own transaction. ``budget_reader`` reads the budget check's figures
        (default: through a read-only unit of work)."""
        self._uow = uow
        self._budget_reader = budget_reader or UnitOfWorkBudgetReader(uow)
        self._ledger = ledger
        self._model = model
        self._catalog = catalog
        self._limiter = limiter
        self._budgets = budgets
        self._clock = clock
        self._timeout = timeout_seconds

    # -- names ---------------------------------------------------------------------------------------

    def resolve_model(self, name: str) -> ModelInfo:
        """A catalog id, or a short name only one available model carries; ``UnknownModel`` otherwise."""
        available = [m.id for m in self._catalog.models() if self._catalog.is_available(m.id)]
        wanted = name if "/" in name else short_aliases(available).get(name)
        if wanted is None:
            raise UnknownModel(
                f"The model `{name}` does not exist or you do not have access to it",
                extra={"model": name, "available": available},
            )
        return self._catalog.resolve(wanted)

    # -- the calls -----------------------------------------------------------------------------------

    async def complete(self, principal: Principal, command: CompleteChatCommand) -> CompletionResult:
        """The whole answer, charged before it is returned."""
        request, budget_micros = await self._admit(principal, command)
        asked = self._clock.monotonic()
        completion = await self._model.complete(request)
        provider_seconds = self._clock.monotonic() - asked
        usage = completion.usage
        if usage.input_tokens == 0 and usage.output_tokens == 0 and completion.text:
            usage = estimate_usage(request.messages, completion.text)
        return await self._charge(
            principal,
            command,
            request,
            text=completion.text,
            finish_reason=completion.finish_reason,
            usage=usage,
            model=completion.model_id,
            provider_seconds=provider_seconds,
            latency_ms=round(provider_seconds * 1000),
            ttft_ms=completion.ttft_ms,
            budget_micros=budget_micros,
        )

    async def stream(self, principal: Principal, command: CompleteChatCommand) -> CompletionStream:
        """Start a streamed answer; returns once its first chunk arrived (or raises, having sent nothing)."""
        request, budget_micros = await self._admit(principal, command)
        asked = self._clock.monotonic()
        chunks = self._model.stream(request)
        first = await anext(aiter(chunks))
        return CompletionStream(
            self,
            principal,
            command,
            request,
            chunks,
            first,
            waited=self._clock.monotonic() - asked,
            budget_micros=budget_micros,
        )

    # -- inside ----------------------------------------------------------------------------------------

    async def _admit(self, principal: Principal, command: CompleteChatCommand) -> tuple[ChatRequest, int]:
        """Checks that cost nothing first, then the rate limit and the budget; the request to send and
        the user's monthly budget."""
        require_chat(principal)
        info = self.resolve_model(command.model)
        max_output = _checked_options(command, info)
        if not command.messages:
            raise InvalidCompletionRequest("messages must hold at least one message", extra={"param": "messages"})
        prompt_tokens = estimate_prompt_tokens(command.messages)
        if command.max_output_tokens is None:
            # As OpenAI: without a limit the answer gets what the window leaves (the model's most at most).
            max_output = min(max_output, info.context_window - prompt_tokens)
        if max_output < 1 or prompt_tokens + max_output > info.context_window:
            raise PromptTooLong(
                f"This model's maximum context length is {info.context_window} tokens; the messages take about "
                f"{prompt_tokens} and {max_output} are reserved for the answer",
                extra={"param": "messages"},
            )
        await self._limiter.check(principal)
        budget_micros = await check_budget(self._budget_reader, principal, self._budgets, self._clock.now())
        request = ChatRequest(
            messages=command.messages,
            model=info.id,
            temperature=command.temperature,
            max_output_tokens=max_output,
            stop=command.stop,
            deadline=self._clock.monotonic() + self._timeout,
            top_p=command.top_p,
            seed=command.seed,
            response_format=command.response_format,
        )
        return request, budget_micros

    async def _charge(
        self,
        principal: Principal,
        command: CompleteChatCommand,
        request: ChatRequest,
        *,
        text: str,
        finish_reason: FinishReason,
        usage: Usage,
        model: str,
        provider_seconds: float,
        error_code: str | None = None,
        error_detail: str | None = None,
        latency_ms: int | None = None,
        ttft_ms: int | None = None,
        budget_micros: int | None = None,
    ) -> CompletionResult:
        """The call's one write: its usage record (and, with ``store``, the conversation), and the charge
        event when it brings the month to a budget-alert threshold."""
        now = self._clock.now()
        cost = reply_cost(self._catalog, model, usage)
        record = UsageRecord(
            id=new_id(now),
            user_id=principal.user_id,
            kind=UsageKind.COMPLETION,
            model=model,
            provider=model.partition("/")[0],
            usage=usage,
            cost_micros=cost,
            created_at=now,
            api_key_id=principal.api_key_id,
            latency_ms=latency_ms,
            ttft_ms=ttft_ms,
            error_code=error_code,
            fallback=model != request.model,
        )
        conversation_id: uuid.UUID | None = None
        if self._ledger is not None and not command.store:
            await self._ledger.record(record, budget_micros=budget_micros)
        else:
            async with self._uow() as tx:
                if command.store:
                    conversation_id, message_id = await store_exchange(
                        tx,
                        principal,
                        command.temperature,
                        request,
                        text,
                        finish_reason,
                        usage,
                        model,
                        cost,
                        error_code,
                        now,
                    )
                    record = dataclasses.replace(record, conversation_id=conversation_id, message_id=message_id)
                await tx.usage.record(record)
                if budget_micros is not None:
                    await record_charge_if_near_budget(
                        tx, user_id=record.user_id, cost_micros=cost, budget_micros=budget_micros, now=now
                    )
        return CompletionResult(
            text=text,
            finish_reason=finish_reason,
            usage=usage,
            model=model,
            cost_micros=cost,
            provider_seconds=provider_seconds,
            error_code=error_code,
            error_detail=error_detail,
            conversation_id=conversation_id,
        )


@dataclass(slots=True)
class CompletionStream:
    """A streamed answer under way: ``deltas()`` to relay it, then ``settle()`` (always, once)."""

    _use_case: CompleteChat
    _principal: Principal
    _command: CompleteChatCommand
    _request: ChatRequest
    _chunks: AsyncIterator[Chunk]
    _first: Chunk
    #: Seconds spent waiting for the first chunk (retries and fallbacks included).
    waited: float
    #: The user's monthly budget as the admission read it (the charge's alert check).
    budget_micros: int | None = None
    _parts: list[str] = field(default_factory=list)
    _end: StreamEnd | None = None
    _settling: asyncio.Future[CompletionResult] | None = None

    @property
    def model(self) -> str:
        """The model asked for, until the stream's end names the one that answered."""
        return self._end.model_id if self._end is not None else self._request.model

    async def deltas(self) -> AsyncIterator[str]:
        chunk: Chunk | None = self._first
        while chunk is not None:
            if isinstance(chunk, StreamEnd):
                self._end = chunk
                return
            if isinstance(chunk, TextDelta) and chunk.text:
                self._parts.append(chunk.text)
                yield chunk.text
            chunk = await anext(self._chunks, None)

    @property
    def ended(self) -> StreamEnd | None:
        return self._end

    async def settle(self) -> CompletionResult:
        """Close the upstream call if it is still open, and charge what was generated, once: callers
        that ask again (or at the same time) get the same result, and a caller being cancelled does not
        stop the charge."""
        if self._settling is None:
            self._settling = asyncio.ensure_future(self._settle())
        return await asyncio.shield(self._settling)

    async def _settle(self) -> CompletionResult:
        text = "".join(self._parts)
        end = self._end
        if end is None:
            # Left early (the client went away): the upstream call stops now, the text so far is charged.
            close: Any = getattr(self._chunks, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
            usage = estimate_usage(self._request.messages, text)
            finish, model, code, detail = FinishReason.CANCELLED, self._request.model, None, None
        else:
            usage = end.usage
            if usage.input_tokens == 0 and usage.output_tokens == 0 and text:
                usage = estimate_usage(self._request.messages, text)
            finish, model = end.finish_reason, end.model_id
            code = (end.error_code or ProviderError.code) if finish is FinishReason.ERROR else None
            detail = end.error_detail if finish is FinishReason.ERROR else None
        return await self._use_case._charge(
            self._principal,
            self._command,
            self._request,
            text=text,
            finish_reason=finish,
            usage=usage,
            model=model,
            provider_seconds=self.waited,
            error_code=code,
            error_detail=detail,
            latency_ms=end.latency_ms if end is not None else None,
            ttft_ms=round(self.waited * 1000),
            budget_micros=self.budget_micros,
        )


def _checked_options(command: CompleteChatCommand, info: ModelInfo) -> int:
    """Refuse options out of range, as OpenAI does; the answer's token limit."""

    def refuse(param: str, why: str) -> InvalidCompletionRequest:
        return InvalidCompletionRequest(f"{param} {why}", extra={"param": param})

    if command.temperature is not None and not 0 <= command.temperature <= 2:
        raise refuse("temperature", "must be between 0 and 2")
    if command.top_p is not None and not 0 <= command.top_p <= 1:
        raise refuse("top_p", "must be between 0 and 1")
    if len(command.stop) > MAX_STOP_SEQUENCES:
        raise refuse("stop", f"takes at most {MAX_STOP_SEQUENCES} sequences")
    if command.max_output_tokens is None:
        return info.max_output_tokens
    if command.max_output_tokens < 1:
        raise refuse("max_tokens", "must be at least 1")
    if command.max_output_tokens > info.max_output_tokens:
        raise refuse("max_tokens", f"is too large: {info.id} supports at most {info.max_output_tokens} output tokens")
    return command.max_output_tokens
