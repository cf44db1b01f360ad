"""What every AI tool shares: the cache, the limits, the budget, the model call and the bill.

A tool request is an AI request like a chat reply: it counts against the caller's AI requests per
minute, is refused when the month's budget is spent (before any model is called), and its tokens and
cost are recorded in the caller's usage (``kind`` ``ai_tool``). An identical request (tool, input,
parameters, model) is answered from the cache (per user unless ``shared_cache``): ``cached`` is true,
it costs nothing and is never refused. Structured answers are decoded by the ``AnswerDecoder`` port
and checked; an unreadable answer is asked again once, then refused as ``invalid_model_output``
(both calls are paid for: the provider billed them).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from src.application.ai.chat_guard import ChatSafetyGuard
from src.application.ai.ports import ToolMetrics
from src.application.ai.settings import ToolSettings
from src.application.llm.ports import ChatModel, ModelCatalog
from src.application.shared.ids import new_id
from src.application.shared.ports import Cache, Clock, UnitOfWorkFactory
from src.application.usage.ai_requests import AiRequestLimiter
from src.application.usage.budget import budget_status_of, record_charge_if_near_budget
from src.application.usage.ports import UsageTransaction
from src.domain.ai.errors import InvalidModelOutput
from src.domain.ai.injection import InjectionVerdict
from src.domain.ai.moderation_queue import ModerationItemKind
from src.domain.identity.model import Permission, Principal
from src.domain.llm.model import ChatRequest, Completion, MessageRole, ModelInfo, PromptMessage, Usage
from src.domain.shared.errors import PermissionDenied
from src.domain.usage.model import TierBudgets, UsageKind, UsageRecord

T = TypeVar("T")
R = TypeVar("R")
OFFLINE_PROVIDER = "offline"
TOOL_TIMEOUT_SECONDS = 120.0
RETRY_NOTE = "Your previous answer could not be read. Answer with the JSON object only, exactly as specified."


class AnswerDecoder(Protocol):
    """Decodes a model's JSON answer (code fences allowed) as ``type_``; raises ``ValueError`` when it is not one."""

    def decode(self, text: str, type_: type[T]) -> T: ...


@dataclass(frozen=True, slots=True)
class ToolOutcome(Generic[R]):
    result: R
    model: str
    usage: Usage
    cost_micros: int
    cached: bool
    #: The prompt-injection verdict when the scanner flagged the input (``PROMPT_INJECTION_POLICY=flag``).
    safety: InjectionVerdict | None = None


@dataclass(frozen=True, slots=True)
class Bill:
    """What the model calls of one request used, summed."""

    model: str
    provider: str
    usage: Usage = field(default_factory=Usage)

    def add(self, completion: Completion) -> Bill:
        u, c = self.usage, completion.usage
        return Bill(
            completion.model_id,
            completion.provider,
            Usage(
                u.input_tokens + c.input_tokens,
                u.output_tokens + c.output_tokens,
                u.cached_tokens + c.cached_tokens,
                u.reasoning_tokens + c.reasoning_tokens,
                u.estimated or c.estimated,
            ),
        )


class ToolRunner:
    def __init__(
        self,
        uow: UnitOfWorkFactory[UsageTransaction],
        chat_model: ChatModel,
        catalog: ModelCatalog,
        cache: Cache,
        decoder: AnswerDecoder,
        metrics: ToolMetrics,
        *,
        limiter: AiRequestLimiter,
        budgets: TierBudgets,
        clock: Clock,
        settings: ToolSettings,
        guard: ChatSafetyGuard | None = None,
    ) -> None:
        """``guard``: ``PROMPT_INJECTION_POLICY`` on the tools' input, as on chat messages (``None``: off)."""
        self._uow = uow
        self._chat_model = chat_model
        self.catalog = catalog
        self._cache = cache
        self._decoder = decoder
        self.metrics = metrics
        self._limiter = limiter
        self._budgets = budgets
        self._clock = clock
        self.settings = settings
        self._guard = guard

    def model_for(self, principal: Principal, model: str | None) -> ModelInfo:
        if not principal.can(Permission.CHAT_USE):
            raise PermissionDenied(f"AI tools need the {Permission.CHAT_USE.value} permission")
        return self.catalog.resolve(model)

    async def run(
        self,
        principal: Principal,
        tool: str,
        model: ModelInfo,
        request: dict[str, Any],
        result_type: type[R],
        answer: Callable[[], Awaitable[tuple[R, Bill | None]]],
        *,
        user_input: str,
    ) -> ToolOutcome[R]:
        """The cached result of ``request``, or ``answer()`` within the limits, billed and cached.

        ``answer`` returns the result and what its model calls used (``None``: no model was called,
        e.g. a free moderation endpoint). ``user_input`` is the caller's text the prompt-injection
        scanner reads: under ``block`` a flagged one is refused before anything (cache included);
        under ``flag`` the outcome carries the verdict and the request joins the moderation queue
        (not again when served from the cache: the identical request already did).
        """
        verdict = self._guard.check_message(user_input) if self._guard is not None else None
        key = self._cache_key(principal, tool, model.id, request)
        hit = await self._cache.get(key, result_type)
        if hit is not None:
            self.metrics.tool_finished(tool, "cache_hit")
            return ToolOutcome(hit, model.id, Usage(), 0, cached=True, safety=verdict)
        try:
            await self._limiter.check(principal)
            async with self._uow(read_only=True) as tx:
                standing = await budget_status_of(tx, principal, self._budgets, self._clock.now())
            standing.ensure_not_exceeded(self._clock.now())
            result, bill = await answer()
        except Exception:
            self.metrics.tool_finished(tool, "failure")
            raise
        cost = await self.record(principal, bill, budget_micros=standing.budget_micros) if bill is not None else 0
        self.metrics.tool_finished(tool, "success")
        await self._cache.set(key, result, self.settings.cache_ttl_seconds)
        if verdict is not None and self._guard is not None:
            request_id = new_id(self._clock.now())
            await self._guard.report(
                ModerationItemKind.TOOL_INPUT, request_id, principal.user_id, user_input, verdict.reasons
            )
        return ToolOutcome(
            result,
            bill.model if bill else model.id,
            bill.usage if bill else Usage(),
            cost,
            cached=False,
            safety=verdict,
        )

    async def complete(self, model: ModelInfo, system: str, user: str, max_output_tokens: int) -> Completion:
        request = ChatRequest(
            messages=(PromptMessage(MessageRole.SYSTEM, system), PromptMessage(MessageRole.USER, user)),
            model=model.id,
            temperature=0.2,
            max_output_tokens=max_output_tokens,
            deadline=self._clock.monotonic() + TOOL_TIMEOUT_SECONDS,
        )
        return await self._chat_model.complete(request)

    async def structured(
        self,
        principal: Principal,
        model: ModelInfo,
        system: str,
        user: str,
        answer_type: type[T],
        check: Callable[[T], None],
        max_output_tokens: int = 400,
    ) -> tuple[T, Bill]:
        """Ask for JSON decoded as ``answer_type`` and accepted by ``check`` (which raises ``ValueError``);
        one more try when it is not, then ``invalid_model_output`` (the calls made are billed)."""
        bill = Bill(model.id, model.provider)
        for attempt in range(2):
            prompt = user if attempt == 0 else f"{user}\n\n{RETRY_NOTE}"
            completion = await self.complete(model, system, prompt, max_output_tokens)
            bill = bill.add(completion)
            try:
                decoded = self._decoder.decode(completion.text, answer_type)
                check(decoded)
            except ValueError:
                continue
            return decoded, bill
        await self.record(principal, bill)
        raise InvalidModelOutput(
            "the model answered twice with something that is not the expected JSON", extra={"model": bill.model}
        )

    async def record(self, principal: Principal, bill: Bill, *, budget_micros: int | None = None) -> int:
        """Store the bill's usage; a charge that brings the month to an alert threshold of the user's
        budget (``None``: not known here) raises ``UsageCharged`` in the same transaction, as a chat
        reply's does, so the budget alerts hear of AI-tool spending too."""
        info = self.catalog.get(bill.model)
        cost = info.pricing.cost_micros(bill.usage) if info is not None else 0
        now = self._clock.now()
        async with self._uow() as tx:
            await tx.usage.record(
                UsageRecord(
                    id=new_id(now),
                    user_id=principal.user_id,
                    kind=UsageKind.AI_TOOL,
                    model=bill.model,
                    provider=bill.provider,
                    usage=bill.usage,
                    cost_micros=cost,
                    created_at=now,
                )
            )
            await record_charge_if_near_budget(
                tx, user_id=principal.user_id, cost_micros=cost, budget_micros=budget_micros, now=now
            )
        return cost

    def _cache_key(self, principal: Principal, tool: str, model: str, request: dict[str, Any]) -> str:
        scope = "shared" if self.settings.shared_cache else str(principal.user_id)
        canonical = json.dumps([tool, model, request], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return f"ai:tool:{tool}:{scope}:{hashlib.sha256(canonical.encode()).hexdigest()}"
