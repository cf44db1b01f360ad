"""Summaries by the default model, cached by the hash of the model, title and body."""

from __future__ import annotations

import pytest

from src.application.knowledge.summarize_article import SummarizeArticle, SummarizeArticleCommand
from src.application.knowledge.views import UpdateArticleCommand
from src.application.usage.ai_requests import AiRequestLimiter
from src.domain.chat.errors import AiRequestsRateLimited
from src.domain.identity.model import Principal, Tier
from src.domain.knowledge.errors import ArticleNotFound
from src.domain.llm.model import ChatRequest, Completion, FinishReason, ModelInfo, ModelPricing, Usage
from src.domain.shared.rate_limit import RateLimitPolicy
from src.domain.usage.errors import BudgetExceeded
from src.domain.usage.model import TierBudgets, UsageKind
from src.infrastructure.rate_limit.memory_limiter import MemoryRateLimiter
from tests.unit.knowledge.conftest import World


class FakeChatModel:
    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []

    async def complete(self, request: ChatRequest) -> Completion:
        self.requests.append(request)
        return Completion(
            text=f"  summary #{len(self.requests)}  ",
            finish_reason=FinishReason.STOP,
            usage=Usage(10, 5),
            provider="offline",
            model="lorem",
            latency_ms=1,
        )

    def stream(self, request: ChatRequest):  # type: ignore[no-untyped-def]
        raise NotImplementedError


PRICED = ModelInfo(
    id="offline/lorem",
    display_name="x",
    context_window=8192,
    max_output_tokens=2048,
    pricing=ModelPricing(input_per_million=1_000_000, output_per_million=2_000_000),
)


class FakeCatalog:
    default_model = "offline/lorem"

    def resolve(self, model_id: str | None) -> ModelInfo:
        return PRICED

    def get(self, model_id: str) -> ModelInfo | None:
        return PRICED if model_id == PRICED.id else None


@pytest.fixture
def model() -> FakeChatModel:
    return FakeChatModel()


BUDGETS = TierBudgets(free_micros=100, pro_micros=1_000_000)


@pytest.fixture
def limiter(world: World) -> AiRequestLimiter:
    policy = RateLimitPolicy("ai_free", limit=3, window_seconds=60)
    return AiRequestLimiter(MemoryRateLimiter(clock=world.clock.monotonic), {Tier.FREE: policy, Tier.PRO: policy})


@pytest.fixture
def summarize(world: World, model: FakeChatModel, limiter: AiRequestLimiter) -> SummarizeArticle:
    return SummarizeArticle(
        world.uow,
        model,
        FakeCatalog(),  # type: ignore[arg-type]
        world.cache,
        limiter=limiter,
        budgets=BUDGETS,
        clock=world.clock,
    )


async def test_a_summary_is_cached_until_the_article_changes(
    world: World, ada: Principal, model: FakeChatModel, summarize: SummarizeArticle
) -> None:
    article = await world.write(ada, "Title", "Body text.")
    first = await summarize(ada, SummarizeArticleCommand(article.id))
    assert (first.summary, first.model, first.cached) == ("summary #1", "offline/lorem", False)
    (request,) = model.requests
    assert request.model == "offline/lorem"
    assert "Body text." in request.messages[-1].content
    again = await summarize(ada, SummarizeArticleCommand(article.id))
    assert (again.summary, again.cached, again.content_hash) == ("summary #1", True, first.content_hash)
    await world.update_article(ada, UpdateArticleCommand(article.id, body="New body."))
    changed = await summarize(ada, SummarizeArticleCommand(article.id))
    assert (changed.summary, changed.cached) == ("summary #2", False)
    assert changed.content_hash != first.content_hash


async def test_only_readable_articles_are_summarized(
    world: World, ada: Principal, bob: Principal, model: FakeChatModel, summarize: SummarizeArticle
) -> None:
    private = await world.write(ada, "Mine", "Secret.")
    public = await world.write(ada, "Ours", "Open.", status="published", visibility="public")
    with pytest.raises(ArticleNotFound):
        await summarize(bob, SummarizeArticleCommand(private.id))
    assert model.requests == []
    assert (await summarize(bob, SummarizeArticleCommand(public.id))).summary == "summary #1"


async def test_a_summary_is_charged_to_its_reader_and_a_cached_one_is_free(
    world: World, ada: Principal, summarize: SummarizeArticle
) -> None:
    article = await world.write(ada, "Title", "Body text.")
    await summarize(ada, SummarizeArticleCommand(article.id))
    await summarize(ada, SummarizeArticleCommand(article.id))  # cached: no model call, nothing charged
    (record,) = world.db.chat.usage
    assert (record.user_id, record.kind, record.model) == (ada.user_id, UsageKind.SUMMARY, "offline/lorem")
    # 10 input tokens at $1/M and 5 output tokens at $2/M: 20 micro-dollars.
    assert (record.usage.input_tokens, record.usage.output_tokens, record.cost_micros) == (10, 5, 20)


async def test_a_spent_budget_refuses_a_summary_before_the_model_is_asked(
    world: World, ada: Principal, model: FakeChatModel, summarize: SummarizeArticle
) -> None:
    article = await world.write(ada, "Title", "Body text.")
    world.db.chat.budgets[ada.user_id] = 20
    await summarize(ada, SummarizeArticleCommand(article.id))  # spends the 20 micro-dollars
    await world.update_article(ada, UpdateArticleCommand(article.id, body="Changed."))
    with pytest.raises(BudgetExceeded):
        await summarize(ada, SummarizeArticleCommand(article.id))
    assert len(model.requests) == 1


async def test_summaries_count_against_the_ai_requests_per_minute(
    world: World, ada: Principal, model: FakeChatModel, summarize: SummarizeArticle
) -> None:
    articles = [await world.write(ada, f"Title {i}", f"Body {i}.") for i in range(4)]
    for article in articles[:3]:
        await summarize(ada, SummarizeArticleCommand(article.id))
    with pytest.raises(AiRequestsRateLimited):
        await summarize(ada, SummarizeArticleCommand(articles[3].id))
    assert len(model.requests) == 3
