"""One knowledge "world" per test: the use cases wired to the in-memory fakes and one fake clock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from src.application.knowledge.articles import CreateArticle, DeleteArticle, GetArticle, ListArticles, UpdateArticle
from src.application.knowledge.dictionary import GetDictionary, RefreshDictionary, TopWordsDefinitions
from src.application.knowledge.fetch_paragraph import FetchParagraph
from src.application.knowledge.search_everything import SearchEverything
from src.application.knowledge.search_paragraphs import SearchParagraphs
from src.application.knowledge.search_scopes import ArticleSearchScope, ParagraphSearchScope
from src.application.knowledge.views import ArticleView, CreateArticleCommand
from src.application.shared.ids import new_id
from src.domain.identity.model import Permission, Principal, Role, Tier, permissions_of
from src.domain.knowledge.model import Paragraph
from src.domain.knowledge.words import count_words
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


@dataclass
class World:
    clock: FakeClock = field(default_factory=FakeClock)
    cache: RecordingCache = field(default_factory=RecordingCache)
    source: FakeParagraphSource = field(default_factory=FakeParagraphSource)
    dictionary: FakeDictionary = field(default_factory=FakeDictionary)

    def __post_init__(self) -> None:
        self.uow = FakeUnitOfWorkFactory(clock=self.clock)
        self.db = self.uow.database
        uow, clock = self.uow, self.clock
        self.create_article = CreateArticle(uow, clock)
        self.get_article = GetArticle(uow)
        self.list_articles = ListArticles(uow)
        self.update_article = UpdateArticle(uow, clock)
        self.delete_article = DeleteArticle(uow)
        self.levels = TopWordsDefinitions(uow, self.cache, self.dictionary, concurrency=3)
        self.fetch_paragraph = FetchParagraph(uow, self.source, clock, self.levels)
        self.search_paragraphs = SearchParagraphs(uow)
        self.get_dictionary = GetDictionary(self.levels)
        self.refresh_dictionary = RefreshDictionary(self.levels)
        self.search = SearchEverything(uow, [ArticleSearchScope(), ParagraphSearchScope()])

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
