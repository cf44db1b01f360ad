"""One knowledge "world" per test: the use cases, wired by the container's own builder
(``build_knowledge``) over the in-memory fakes and one fake clock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from src.application.knowledge.dictionary import TopWordsDefinitions
from src.application.knowledge.search_scopes import ArticleSearchScope, ParagraphSearchScope
from src.application.knowledge.views import ArticleView, CreateArticleCommand
from src.application.shared.ids import new_id
from src.application.usage.ai_requests import AiRequestLimiter
from src.domain.identity.model import Permission, Principal, Role, Tier, permissions_of
from src.domain.knowledge.model import Paragraph
from src.domain.knowledge.words import count_words
from src.domain.llm.model import ModelInfo
from src.domain.usage.model import TierBudgets
from src.infrastructure.llm.catalog import FileModelCatalog
from src.infrastructure.wiring.knowledge import build_knowledge
from src.infrastructure.wiring.llm import ModelAccess
from tests.fakes.chat import ScriptedChatModel
from tests.fakes.knowledge import FakeDictionary, FakeParagraphSource, RecordingCache
from tests.fakes.shared import FakeClock, FakeUnitOfWorkFactory


def principal(name: str = "ada", *, permissions: frozenset[Permission] | None = None) -> Principal:
    return Principal(
        user_id=uuid.uuid5(uuid.NAMESPACE_DNS, name),
        email=f"{name}@example.com",
        role=Role.CREATOR,
        tier=Tier.FREE,
        permissions=permissions_of(Role.CREATOR) if permissions is None else permissions,
    )


CATALOG = FileModelCatalog(
    [ModelInfo("offline/echo", "Echo", context_window=8192, max_output_tokens=2048)], (), "offline/echo"
)
NO_LIMIT = AiRequestLimiter(None, {})
BUDGETS = TierBudgets(free_micros=5_000_000, pro_micros=50_000_000)


@dataclass
class World:
    clock: FakeClock = field(default_factory=FakeClock)
    cache: RecordingCache = field(default_factory=RecordingCache)
    source: FakeParagraphSource = field(default_factory=FakeParagraphSource)
    dictionary: FakeDictionary = field(default_factory=FakeDictionary)
    #: The model behind ``summarize_article`` (a scripted one; test_summarize.py scripts its own).
    models: ModelAccess = field(default_factory=lambda: ModelAccess(ScriptedChatModel(), CATALOG, NO_LIMIT, BUDGETS))

    def __post_init__(self) -> None:
        self.uow = FakeUnitOfWorkFactory(clock=self.clock)
        self.db = self.uow.database
        self.levels = TopWordsDefinitions(self.uow, self.cache, self.dictionary, concurrency=3)
        # Knowledge wired as the container wires it (src/infrastructure/wiring/knowledge.py), over fakes.
        uc = build_knowledge(
            uow=self.uow,
            clock=self.clock,
            cache=self.cache,
            models=self.models,
            paragraph_source=self.source,
            dictionary_levels=self.levels,
            search_scopes=[ArticleSearchScope(), ParagraphSearchScope()],
        )
        self.create_article, self.get_article, self.list_articles = uc.create_article, uc.get_article, uc.list_articles
        self.update_article, self.delete_article = uc.update_article, uc.delete_article
        self.summarize_article = uc.summarize_article
        self.fetch_paragraph, self.search_paragraphs = uc.fetch_paragraph, uc.search_paragraphs
        self.get_dictionary, self.refresh_dictionary = uc.get_dictionary, uc.refresh_dictionary
        self.search = uc.search_everything

    async def write(self, who: Principal, title: str, body: str = "", **options: object) -> ArticleView:
        self.clock.advance(1)
        return await self.create_article(who, CreateArticleCommand(title, body, **options))  # type: ignore[arg-type]

    async def store_paragraphs(self, *texts: str) -> list[Paragraph]:
        """Paragraphs straight into the database, as fetches would leave them."""
        stored = []
        async with self.uow() as tx:
            for text in texts:
                self.clock.advance(1)
                paragraph = Paragraph(new_id(self.clock.now()), text, self.clock.now())
                await tx.paragraphs.add(paragraph)
                await tx.word_counts.add(count_words(text))
                stored.append(paragraph)
        return stored


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def ada() -> Principal:
    return principal("ada")


@pytest.fixture
def bob() -> Principal:
    return principal("bob")
