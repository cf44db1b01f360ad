"""The knowledge repositories and their full-text indexes, on SQLite (FTS5) and PostgreSQL (tsvector).

The search answers must be exactly the reference service's: compared here with the reference's
regex (Python's, and on PostgreSQL the reference's own ``content ~* '\\yword\\y'``) on the same data.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from src.application.knowledge.ports import ArticleFilter
from src.domain.identity.model import Role, Tier, User
from src.domain.knowledge.model import Article, ArticleStatus, Paragraph, Visibility
from src.domain.knowledge.words import SearchQuery, count_words
from src.infrastructure.persistence.database import build_database_config
from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory
from src.infrastructure.settings import Settings
from tests.knowledge_support import random_query, random_text, reference_counts, reference_search

START = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
async def uow(migrated_settings: Settings) -> AsyncIterator[SqlAlchemyUnitOfWorkFactory]:
    config = build_database_config(migrated_settings)
    yield SqlAlchemyUnitOfWorkFactory.for_database(config)
    await config.get_engine().dispose()


def paragraphs_of(texts: list[str]) -> list[Paragraph]:
    made = []
    for i, content in enumerate(texts):
        at = START + timedelta(seconds=i)
        made.append(Paragraph(uuid.UUID(int=(int(at.timestamp() * 1000) << 80) | (0x7 << 76) | i), content, at))
    return made


async def store(uow: SqlAlchemyUnitOfWorkFactory, texts: list[str]) -> list[Paragraph]:
    paragraphs = paragraphs_of(texts)
    async with uow() as tx:
        for paragraph in paragraphs:
            await tx.paragraphs.add(paragraph)
            await tx.word_counts.add(count_words(paragraph.content))
    return paragraphs


async def search_ids(
    uow: SqlAlchemyUnitOfWorkFactory, words: list[str], operator: str, *, limit: int = 1000, offset: int = 0
) -> tuple[list[uuid.UUID], int]:
    async with uow(read_only=True) as tx:
        found, total = await tx.paragraphs.search(SearchQuery.parse(words, operator), limit=limit, offset=offset)
    return [p.id for p in found], total


async def test_search_answers_exactly_as_the_reference_regex_on_the_same_data(
    uow: SqlAlchemyUnitOfWorkFactory, settings: Settings
) -> None:
    rng = random.Random(2026)
    texts = [random_text(rng, words=25) for _ in range(400)]
    stored = await store(uow, texts)
    postgres = settings.database.backend == "postgresql"
    for _ in range(250):
        words, operator = random_query(rng), rng.choice(["and", "or"])
        expected = [stored[i].id for i in reference_search(texts, words, operator)]
        found, total = await search_ids(uow, words, operator)
        assert (found, total) == (expected, len(expected)), (words, operator)
        if postgres:
            # The reference's own query, run by PostgreSQL on the same rows.
            joiner = " AND " if operator == "and" else " OR "
            condition = joiner.join(f"content ~* :w{i}" for i in range(len(words)))
            params = {f"w{i}": rf"\y{w}\y" for i, w in enumerate(words)}
            async with uow(read_only=True) as tx:
                rows = await tx.session.execute(text(f"SELECT id FROM paragraph WHERE {condition} ORDER BY id"), params)
                assert [row[0] for row in rows] == expected, (words, operator)


async def test_the_reference_examples(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    stored = await store(
        uow,
        [
            "Paragraph containing one of the words.",
            "None of them, said someone.",
            "Another paragraph with two and THREE.",
            "One, two, three!",
            "Don't panic: it's one o'clock.",
        ],
    )
    ids = [p.id for p in stored]
    assert await search_ids(uow, ["one", "two", "three"], "or") == ([ids[0], ids[2], ids[3], ids[4]], 4)
    assert await search_ids(uow, ["one", "two", "three"], "and") == ([ids[3]], 1)
    assert await search_ids(uow, ["ONE"], "and") == ([ids[0], ids[3], ids[4]], 3)
    assert await search_ids(uow, ["none"], "and") == ([ids[1]], 1)
    assert await search_ids(uow, ["don't", "o'clock"], "and") == ([ids[4]], 1)
    assert await search_ids(uow, ["clock", "it"], "and") == ([ids[4]], 1)
    assert await search_ids(uow, ["someone's"], "or") == ([], 0)
    assert await search_ids(uow, ["absent"], "and") == ([], 0)


async def test_words_that_look_like_query_syntax_are_only_words(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    stored = await store(uow, ["and or not near", "AND OR NOT NEAR x", "it's '' quoted ''", "don’t"])
    ids = [p.id for p in stored]
    assert await search_ids(uow, ["or"], "and") == ([ids[0], ids[1]], 2)
    assert await search_ids(uow, ["not", "near"], "and") == ([ids[0], ids[1]], 2)
    assert await search_ids(uow, ["'"], "or") == ([ids[2]], 1)
    assert await search_ids(uow, ["''"], "or") == ([], 0)  # "'' quoted ''": no word on both sides
    assert await search_ids(uow, ["don’t"], "or") == ([ids[3]], 1)
    assert await search_ids(uow, ["don't"], "or") == ([], 0)


async def test_pages_walk_every_match_oldest_first_with_an_exact_total(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    stored = await store(uow, [f"item {i} {'even' if i % 2 == 0 else 'odd'}" for i in range(23)])
    evens = [p.id for i, p in enumerate(stored) if i % 2 == 0]
    pages = []
    for offset in range(0, 15, 5):
        page, total = await search_ids(uow, ["even"], "and", limit=5, offset=offset)
        assert total == 12
        pages.extend(page)
    assert pages == evens
    assert await search_ids(uow, ["even"], "and", limit=5, offset=12) == ([], 12)


async def test_word_counts_add_up_across_paragraphs(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    rng = random.Random(5)
    texts = [random_text(rng) for _ in range(100)]
    await store(uow, texts)
    expected = reference_counts(texts)
    async with uow(read_only=True) as tx:
        top = await tx.word_counts.top(10)
        without = await tx.word_counts.top(3, excluding=frozenset(w for w, _ in expected.most_common(2)))
    ranked = sorted(expected.items(), key=lambda item: (-item[1], item[0]))
    assert [(f.word, f.count) for f in top] == ranked[:10]
    assert [(f.word, f.count) for f in without] == ranked[2:5]


async def test_concurrent_writers_never_lose_a_count(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    async def write(n: int) -> None:
        async with uow() as tx:
            # Overlapping words in different orders: the upsert must add, and rows lock in one order.
            await tx.word_counts.add(Counter({"shared": 1, "common": 2, f"own{n}": 1, "zeta": 1}))

    await asyncio.gather(*(write(n) for n in range(20)))
    async with uow(read_only=True) as tx:
        top = {f.word: f.count for f in await tx.word_counts.top(30)}
    assert (top["shared"], top["common"], top["zeta"]) == (20, 40, 20)
    assert all(top[f"own{n}"] == 1 for n in range(20))


async def test_concurrent_fetches_are_all_found(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    texts = [f"shared words here {n} own{n}" for n in range(16)]

    async def add(paragraph: Paragraph) -> None:
        async with uow() as tx:
            await tx.paragraphs.add(paragraph)

    # Each adds to the same rows ("shared", "words", "here"): none may overwrite another's bits.
    await asyncio.gather(*(add(p) for p in paragraphs_of(texts)))
    found, total = await search_ids(uow, ["shared", "here"], "and")
    assert total == 16
    assert len(set(found)) == 16
    for n in (0, 7, 15):
        assert (await search_ids(uow, [f"own{n}"], "or"))[1] == 1


async def test_pages_cross_bitmap_chunks(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    from src.infrastructure.persistence import knowledge_bitmaps

    texts = [f"n{i} {'tick' if i % 3 == 0 else 'tock'}" for i in range(60)]
    original = knowledge_bitmaps.CHUNK_BITS
    knowledge_bitmaps.CHUNK_BITS = 8  # many chunks from few paragraphs
    try:
        stored = await store(uow, texts)
        ticks = [p.id for i, p in enumerate(stored) if i % 3 == 0]
        pages = []
        for offset in range(0, 20, 7):
            page, total = await search_ids(uow, ["tick"], "or", limit=7, offset=offset)
            assert total == 20
            pages.extend(page)
        assert pages == ticks
        assert await search_ids(uow, ["tick", "tock"], "and") == ([], 0)
        assert (await search_ids(uow, ["tick", "tock"], "or"))[1] == 60
    finally:
        knowledge_bitmaps.CHUNK_BITS = original


async def test_ranking_counts_every_match_and_orders_the_best_first(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    stored = await store(uow, ["pasta", "pasta pasta pasta pasta", "no match", "pasta and sauce pasta"])
    async with uow(read_only=True) as tx:
        ranking = await tx.paragraphs.rank(SearchQuery.parse(["pasta"]), limit=2)
    assert ranking.total == 3
    assert [h.id for h in ranking.hits][0] == stored[1].id
    assert len(ranking.hits) == 2
    assert ranking.hits[0].score >= ranking.hits[1].score


async def add_user(uow: SqlAlchemyUnitOfWorkFactory, name: str) -> uuid.UUID:
    user = User(
        id=uuid.uuid4(),
        email=f"{name}@example.com",
        display_name=name,
        password_hash="x",
        role=Role.CREATOR,
        tier=Tier.FREE,
        is_active=True,
        created_at=START,
        updated_at=START,
    )
    async with uow() as tx:
        await tx.users.add(user)
    return user.id


def article(author: uuid.UUID, title: str, body: str, *tags: str, public: bool = False, minute: int = 0) -> Article:
    return Article.write(
        id=uuid.uuid4(),
        author_id=author,
        title=title,
        body=body,
        tags=tags,
        status=ArticleStatus.PUBLISHED if public else ArticleStatus.DRAFT,
        visibility=Visibility.PUBLIC if public else Visibility.PRIVATE,
        now=START + timedelta(minutes=minute),
    )


async def test_articles_keep_tags_and_their_index_in_step(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    ada, bob = await add_user(uow, "ada"), await add_user(uow, "bob")
    first = article(ada, "Pasta", "Boil the water, don't stir.", "food", "italian", minute=1)
    second = article(bob, "Bob's soup", "Soup with pasta.", "food", public=True, minute=2)
    hidden = article(bob, "Bob's pasta secret", "pasta", "food", minute=3)
    async with uow() as tx:
        for a in (first, second, hidden):
            await tx.articles.add(a)

    async def listed(reader: uuid.UUID, **narrow: object) -> list[str]:
        async with uow(read_only=True) as tx:
            found, total = await tx.articles.list(ArticleFilter(reader_id=reader, **narrow), limit=10, offset=0)  # type: ignore[arg-type]
        assert total == len(found)
        return [a.title for a in found]

    assert await listed(ada) == ["Bob's soup", "Pasta"]
    assert await listed(ada, tag="italian") == ["Pasta"]
    assert await listed(ada, tag="food", query=SearchQuery.parse(["pasta"])) == ["Bob's soup", "Pasta"]
    assert await listed(ada, query=SearchQuery.parse(["don't", "stir"])) == ["Pasta"]
    assert await listed(ada, author_id=bob) == ["Bob's soup"]
    assert await listed(bob, status=ArticleStatus.DRAFT) == ["Bob's pasta secret"]

    first.edit(now=START + timedelta(hours=1), body="Now about rice.", tags=["rice"])
    async with uow() as tx:
        await tx.articles.save(first)
    assert await listed(ada, query=SearchQuery.parse(["stir"])) == []
    assert await listed(ada, query=SearchQuery.parse(["rice"])) == ["Pasta"]
    assert await listed(ada, tag="italian") == []
    async with uow(read_only=True) as tx:
        reread = await tx.articles.get(first.id)
        ranking = await tx.articles.rank(SearchQuery.parse(["pasta"]), reader_id=ada, limit=10)
    assert reread is not None
    assert (reread.tags, reread.body) == (("rice",), "Now about rice.")
    # Ada may read her own article and Bob's public one; Bob's draft is not hers to find.
    assert {h.id for h in ranking.hits} == {first.id, second.id}
    assert ranking.total == 2
    assert ranking.hits[0].id == first.id  # the title weighs more than the body

    async with uow() as tx:
        await tx.articles.delete(first.id)
    assert await listed(ada, query=SearchQuery.parse(["rice"])) == []
    assert await listed(ada) == ["Bob's soup"]
    async with uow(read_only=True) as tx:
        tags = await tx.session.execute(text("SELECT count(*) FROM tag"))
    assert tags.scalar() == 3  # tags stay: other articles may share them
