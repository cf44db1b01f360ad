"""Grounding: what retrieving the passages of a grounded reply adds before the model is called.

A throwaway PostgreSQL database (``BENCH_DATABASE_URL``, default the test server on loopback) gets
``BENCH_GROUNDING_PARAGRAPHS`` metaphorpsum-style paragraphs (default 100,000, 5 sentences each) and
1,000 articles of one user (a few sentences each, tagged), through Parley's own repositories. Then the
``KnowledgeBaseRetriever`` runs in this process, in a read-only unit of work as in ``SendMessage``,
for messages of several kinds: a rare word, three nouns, a long message (20 search words, most of
them common), a word no text has, and only stop words. ``knowledge: true`` ranks the articles and the
paragraphs (for the message's rare words only: ``selective_query``); a grounding by tags ranks the
articles only. Figures are medians in ms (the top 5 passages, 600-character excerpts), with how many
paragraphs hold any word of the message and how many the paragraph search actually ranked.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from bench.support import DATABASE_URL, admin
from src.application.chat.knowledge_retriever import KnowledgeBaseRetriever
from src.domain.chat.grounding import retrieval_query, selective_query
from src.domain.chat.model import Grounding
from src.domain.identity.model import Principal, Role, Tier, permissions_of
from src.domain.knowledge.model import Article, ArticleStatus, Paragraph, Visibility
from src.domain.knowledge.words import count_words
from src.infrastructure.external.paragraph_source import metaphor_paragraph, metaphor_sentence
from src.infrastructure.persistence.database import build_database_config
from src.infrastructure.persistence.migrator import Migrator
from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory
from src.infrastructure.settings import load_settings

PARAGRAPHS = int(os.environ.get("BENCH_GROUNDING_PARAGRAPHS", "100000"))
ARTICLES = 1000
BATCH = 2000
ROUNDS = 15
TAGS = ("food", "travel", "work", "home", "music")
#: (name, message): what a user might type.
MESSAGES = [
    ("rare_word", "Tell me about the zebra."),
    ("three_nouns", "What do my notes say about a violin, a lamp or a zebra?"),
    (
        "long_message",
        "I keep reading that the pencil is a plane and the pumpkin of a bridge becomes a noble moon; "
        "their spider was an abstract dinosaur, some barren shoes are thought of as wolves, the apple "
        "is a tree, and a cat is a kitten. What does my knowledge say about shoes, moons, planes, "
        "bridges, pumpkins, spiders, dinosaurs, wolves, apples, trees, cats, pencils and kittens?",
    ),
    ("no_match", "Anything on quixotic sesquipedalian verbiage?"),
    ("stop_words_only", "What is it that you do?"),
]


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def _id(at: datetime, n: int) -> uuid.UUID:
    """A UUIDv7-shaped id for ``at`` (ordered like the real ones)."""
    return uuid.UUID(int=(int(at.timestamp() * 1000) << 80) | (0x7 << 76) | (2 << 62) | n)


async def load(database_url: str, owner: uuid.UUID) -> dict[str, float]:
    settings = load_settings(
        {"DATABASE_URL": database_url, "SECRET_KEY": "b" * 40, "SLOW_QUERY_MS": "600000"}, env_file=None
    )
    config = build_database_config(settings)
    uow = SqlAlchemyUnitOfWorkFactory.for_database(config)
    rng = random.Random(2026)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    counts: Counter[str] = Counter()
    for batch_start in range(0, PARAGRAPHS, BATCH):
        batch = []
        for n in range(batch_start, min(batch_start + BATCH, PARAGRAPHS)):
            at = start + timedelta(milliseconds=n)
            text = metaphor_paragraph(rng, 5)
            batch.append(Paragraph(_id(at, n), text, at))
            counts.update(count_words(text))
        async with uow() as tx:
            await tx.paragraphs.add_many(batch)
    async with uow() as tx:
        await tx.word_counts.add(counts)
        await tx.users.add(_user(owner, start))
        for n in range(ARTICLES):
            at = start + timedelta(seconds=n)
            body = " ".join(metaphor_sentence(rng) for _ in range(rng.randint(3, 12)))
            await tx.articles.add(
                Article.write(
                    id=_id(at, PARAGRAPHS + n),
                    author_id=owner,
                    title=metaphor_sentence(rng)[:80],
                    body=body,
                    tags=rng.sample(TAGS, 2),
                    status=ArticleStatus.PUBLISHED,
                    visibility=Visibility.PRIVATE,
                    now=at,
                )
            )
    loaded = time.perf_counter() - started
    await config.get_engine().dispose()
    url = make_url(database_url)
    connection = await asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username, database=url.database)
    try:
        await connection.execute("VACUUM ANALYZE paragraph, paragraph_search, article, article_search, article_tag")
    finally:
        await connection.close()
    return {"load_s": round(loaded, 1)}


def _user(user_id: uuid.UUID, now: datetime) -> Any:
    from src.domain.identity.model import User

    return User(
        id=user_id,
        email="bench@example.com",
        display_name="Bench",
        password_hash="x",
        role=Role.CREATOR,
        tier=Tier.FREE,
        is_active=True,
        created_at=now,
        updated_at=now,
    )


async def timed(call: Callable[[], Awaitable[Any]]) -> tuple[Any, float]:
    result = await call()  # warm
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        result = await call()
        samples.append(time.perf_counter() - started)
    return result, median_ms(samples)


async def measure(database_url: str, owner: uuid.UUID) -> dict[str, Any]:
    settings = load_settings({"DATABASE_URL": database_url, "SECRET_KEY": "b" * 40}, env_file=None)
    config = build_database_config(settings)
    uow = SqlAlchemyUnitOfWorkFactory.for_database(config)
    principal = Principal(
        user_id=owner,
        email="bench@example.com",
        role=Role.CREATOR,
        tier=Tier.FREE,
        permissions=permissions_of(Role.CREATOR),
    )
    retriever = KnowledgeBaseRetriever(excerpt_chars=600)
    figures: dict[str, Any] = {}
    try:
        for name, message in MESSAGES:
            for grounding_name, grounding in (("all", Grounding(None)), ("tags", Grounding(("food", "travel")))):

                async def retrieve(message: str = message, grounding: Grounding = grounding) -> Any:
                    async with uow(read_only=True) as tx:
                        return await retriever.retrieve(tx, principal, message, grounding, 5)

                passages, ms = await timed(retrieve)
                figures[f"{name}_{grounding_name}_ms"] = ms
                figures[f"{name}_{grounding_name}_passages"] = len(passages)
            query = retrieval_query(message)
            if query is not None:
                async with uow(read_only=True) as tx:
                    # Every word of the message, and the rare ones the paragraph search keeps.
                    figures[f"{name}_search_words"] = len(query.words)
                    figures[f"{name}_paragraphs_matching_every_word"] = (await tx.paragraphs.rank(query, limit=1)).total
                    selective = selective_query(query, await tx.word_counts.counts(query.words))
                    figures[f"{name}_paragraph_search_words"] = len(selective.words) if selective else 0
                    figures[f"{name}_paragraphs_ranked"] = (
                        (await tx.paragraphs.rank(selective, limit=1)).total if selective else 0
                    )

        async def empty_unit_of_work() -> None:
            async with uow(read_only=True):
                pass

        _, figures["empty_unit_of_work_ms"] = await timed(empty_unit_of_work)
    finally:
        await config.get_engine().dispose()
    return figures


def run() -> dict[str, Any]:
    figures: dict[str, Any] = {"paragraphs": PARAGRAPHS, "articles": ARTICLES}
    name = f"parley_bench_grounding_{uuid.uuid4().hex[:8]}"
    database_url = make_url(DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    owner = uuid.UUID("01900000-0000-7000-8000-000000000001")
    try:
        Migrator(load_settings({"DATABASE_URL": database_url, "SECRET_KEY": "b" * 40}, env_file=None)).upgrade()
        figures.update(asyncio.run(load(database_url, owner)))
        print(f"   loaded {PARAGRAPHS} paragraphs and {ARTICLES} articles in {figures['load_s']} s")
        figures.update(asyncio.run(measure(database_url, owner)))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return figures
