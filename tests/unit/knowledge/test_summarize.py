"""Summaries by the default model, cached by the hash of the model, title and body."""

from __future__ import annotations

import pytest

from src.application.knowledge.summarize_article import SummarizeArticle
from src.application.knowledge.views import UpdateArticleCommand
from src.domain.identity.model import Principal
from src.domain.knowledge.errors import ArticleNotFound
from src.domain.llm.model import ChatRequest, Completion, FinishReason, ModelInfo, Usage
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


class FakeCatalog:
    default_model = "offline/lorem"

    def resolve(self, model_id: str | None) -> ModelInfo:
        return ModelInfo(
            id=model_id or self.default_model, display_name="x", context_window=8192, max_output_tokens=2048
        )


@pytest.fixture
def model() -> FakeChatModel:
    return FakeChatModel()


@pytest.fixture
def summarize(world: World, model: FakeChatModel) -> SummarizeArticle:
    return SummarizeArticle(world.uow, model, FakeCatalog(), world.cache)  # type: ignore[arg-type]


async def test_a_summary_is_cached_until_the_article_changes(
    world: World, ada: Principal, model: FakeChatModel, summarize: SummarizeArticle
) -> None:
    article = await world.write(ada, "Title", "Body text.")
    first = await summarize(ada, article.id)
    assert (first.summary, first.model, first.cached) == ("summary #1", "offline/lorem", False)
    (request,) = model.requests
    assert request.model == "offline/lorem"
    assert "Body text." in request.messages[-1].content
    again = await summarize(ada, article.id)
    assert (again.summary, again.cached, again.content_hash) == ("summary #1", True, first.content_hash)
    await world.update_article(ada, UpdateArticleCommand(article.id, body="New body."))
    changed = await summarize(ada, article.id)
    assert (changed.summary, changed.cached) == ("summary #2", False)
    assert changed.content_hash != first.content_hash


async def test_only_readable_articles_are_summarized(
    world: World, ada: Principal, bob: Principal, model: FakeChatModel, summarize: SummarizeArticle
) -> None:
    private = await world.write(ada, "Mine", "Secret.")
    public = await world.write(ada, "Ours", "Open.", status="published", visibility="public")
    with pytest.raises(ArticleNotFound):
        await summarize(bob, private.id)
    assert model.requests == []
    assert (await summarize(bob, public.id)).summary == "summary #1"
