"""Summarize an article with the default model, cached by the hash of what was summarized.

The cache key is the SHA-256 of the model and the article's title and body: editing the article
(or changing the default model) asks the model again; summarizing it again does not. Anyone who may
read the article may summarize it.

A summary that calls a model is an AI request like a chat reply: it counts against the caller's AI
requests per minute, is refused when the month's budget is spent (before the model is called), and
its tokens and cost are recorded in the caller's usage (``kind`` ``summary``). A cached summary costs
nothing and is never refused.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Protocol

from src.application.knowledge.articles import readable_article, require
from src.application.knowledge.ports import KnowledgeTransaction
from src.application.knowledge.views import SummaryView
from src.application.llm.ports import ChatModel, ModelCatalog
from src.application.shared.events import record_event
from src.application.shared.ids import new_id
from src.application.shared.ports import Cache, Clock, UnitOfWorkFactory
from src.application.usage.ai_requests import AiRequestLimiter
from src.application.usage.budget import ensure_within_budget
from src.application.usage.ports import UsageTransaction
from src.domain.identity.model import Permission, Principal
from src.domain.knowledge.events import ArticleSummarized
from src.domain.knowledge.model import Article
from src.domain.llm.model import ChatRequest, Completion, MessageRole, PromptMessage
from src.domain.usage.events import UsageCharged
from src.domain.usage.model import TierBudgets, UsageKind, UsageRecord


class SummarizeArticleTransaction(KnowledgeTransaction, UsageTransaction, Protocol):
    """Knowledge's repositories and usage's (the summary's model call is charged)."""


SUMMARY_TTL = 30 * 24 * 60 * 60
SUMMARY_MAX_TOKENS = 300
#: Articles longer than this are summarized from their beginning (the prompt must fit any model).
MAX_SUMMARIZED_CHARACTERS = 24_000
SYSTEM_PROMPT = (
    "You summarize articles. Answer with a faithful summary of the article in at most five sentences, "
    "in the article's language, without a preamble."
)


@dataclass(frozen=True, slots=True)
class CachedSummary:
    summary: str
    model: str


def summary_hash(model: str, title: str, body: str) -> str:
    return hashlib.sha256("\x1f".join((model, title, body)).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SummarizeArticleCommand:
    article_id: uuid.UUID


class SummarizeArticle:
    def __init__(
        self,
        uow: UnitOfWorkFactory[SummarizeArticleTransaction],
        chat_model: ChatModel,
        catalog: ModelCatalog,
        cache: Cache,
        *,
        limiter: AiRequestLimiter,
        budgets: TierBudgets,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._chat_model = chat_model
        self._catalog = catalog
        self._cache = cache
        self._limiter = limiter
        self._budgets = budgets
        self._clock = clock

    async def __call__(self, principal: Principal, command: SummarizeArticleCommand) -> SummaryView:
        require(principal, Permission.KNOWLEDGE_READ)
        async with self._uow(read_only=True) as tx:
            article = await readable_article(tx, principal, command.article_id)
        model = self._catalog.resolve(None).id
        digest = summary_hash(model, article.title, article.body)
        key = f"knowledge:summary:{digest}"
        cached = await self._cache.get(key, CachedSummary)
        if cached is not None:
            return SummaryView(article.id, cached.summary, cached.model, digest, cached=True)
        await self._limiter.check(principal)
        async with self._uow(read_only=True) as tx:
            await ensure_within_budget(tx, principal, self._budgets, self._clock.now())
        text = f"# {article.title}\n\n{article.body}"[:MAX_SUMMARIZED_CHARACTERS]
        completion = await self._chat_model.complete(
            ChatRequest(
                messages=(
                    PromptMessage(MessageRole.SYSTEM, SYSTEM_PROMPT),
                    PromptMessage(MessageRole.USER, text),
                ),
                model=model,
                temperature=0.2,
                max_output_tokens=SUMMARY_MAX_TOKENS,
            )
        )
        await self._record(principal, completion, article)
        summary = completion.text.strip()
        if summary:
            await self._cache.set(key, CachedSummary(summary, completion.model_id), SUMMARY_TTL)
        return SummaryView(article.id, summary, completion.model_id, digest, cached=False)

    async def _record(self, principal: Principal, completion: Completion, article: Article) -> None:
        info = self._catalog.get(completion.model_id)
        now = self._clock.now()
        cost = info.pricing.cost_micros(completion.usage) if info is not None else 0
        async with self._uow() as tx:
            await record_event(
                tx,
                ArticleSummarized(
                    event_id=new_id(now),
                    occurred_at=now,
                    user_id=principal.user_id,
                    article_id=article.id,
                    title=article.title,
                ),
            )
            if cost:
                await record_event(
                    tx, UsageCharged(event_id=new_id(now), occurred_at=now, user_id=principal.user_id, cost_micros=cost)
                )
            await tx.usage.record(
                UsageRecord(
                    id=new_id(now),
                    user_id=principal.user_id,
                    kind=UsageKind.SUMMARY,
                    model=completion.model_id,
                    provider=completion.provider,
                    usage=completion.usage,
                    cost_micros=cost,
                    created_at=now,
                )
            )
