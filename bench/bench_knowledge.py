"""Knowledge: paragraph search and the dictionary through the API, against the reference's regex scan and recount.

100,000 metaphorpsum-style paragraphs (5 sentences, ~450 characters each) are bulk-loaded into a
throwaway PostgreSQL database (``BENCH_DATABASE_URL``, default the test server on loopback) through
Parley's own repositories (paragraphs, their search index and the word counts). Then, on that
database:

- search: ``POST /api/v1/paragraphs/search`` (first page of 20 and the exact ``total_count``) through
  a real server, against the reference service's way run in this process: ``content ~* '\\yword\\y'``
  for the count and the same first page. Both answers are checked to be identical. The same search
  is also timed in this process (the ``SearchParagraphs`` use case on the same database, no HTTP),
  beside the reference: the API figures also include HTTP (the httpx client too), authentication and JSON.
- dictionary: ``GET /api/v1/paragraphs/dictionary`` cached (level 3 hit), uncached (levels 3 and 1
  cleared: the word counts table and the cached definitions answer) and cold (every level cleared:
  the ten definitions come from a local fake dictionary service), against the reference's recount:
  every paragraph read and its words counted in Python.

Latencies are medians of sequential requests over one keep-alive connection (the API's include
HTTP, authentication and JSON), made with the standard library's ``http.client`` (``bench.support.
LeanClient``); the same through httpx, whose own Python costs ~0.4 ms a request, is reported beside
them (``*_api_httpx_ms``). Searches are timed in three passes, each a block of 20 through the
API, 20 in process and 2 reference scans, so that a noisy moment of the machine weighs on every way
alike. Redis: ``BENCH_REDIS_URL`` (default db 14 on loopback).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import httpx
import redis
from sqlalchemy.engine import make_url

from bench.support import DATABASE_URL, LeanClient, admin, parley_server
from src.application.knowledge.get_dictionary import GetDictionaryQuery
from src.application.knowledge.views import SearchParagraphsQuery
from src.domain.identity.model import Principal
from src.domain.knowledge.model import Paragraph
from src.domain.knowledge.words import count_words
from src.infrastructure.container import build_container
from src.infrastructure.external.paragraph_source import metaphor_paragraph
from src.infrastructure.persistence.database import build_database_config
from src.infrastructure.persistence.migrator import Migrator
from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory
from src.infrastructure.settings import load_settings

PARAGRAPHS = int(os.environ.get("BENCH_KNOWLEDGE_PARAGRAPHS", "100000"))
SENTENCES = 5
BATCH = 2000
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
EMAIL = "bench@example.com"
PASSWORD = "benchmark-password-heron-58"
PAGE = 20
SEARCH_ROUNDS = 60
#: Blocks of each way, taken in turn (see ``measure``).
PASSES = 3
WARM_UP = 10
REFERENCE_ROUNDS = 6
#: (name, words, operator): a word in most paragraphs, in some, two nouns, an apostrophe, none.
QUERIES = [
    ("common_the", ["the"], "and"),
    ("noun_zebra", ["zebra"], "and"),
    ("and_two_nouns", ["zebra", "violin"], "and"),
    ("or_three_nouns", ["zebra", "violin", "lamp"], "or"),
    ("apostrophe_dont", ["don't"], "and"),
    ("absent_word", ["quixotic"], "or"),
]
CACHE_PREFIX = "parley:cache:knowledge:"


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


@contextmanager
def fake_dictionary() -> Iterator[str]:
    """A local dictionaryapi.dev stand-in: every word has two definitions."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            word = self.path.rsplit("/", 1)[-1]
            body = json.dumps(
                [
                    {
                        "word": word,
                        "phonetic": f"/{word}/",
                        "meanings": [{"definitions": [{"definition": f"{word} (1)"}]}],
                    }
                ]
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/en"
    finally:
        server.shutdown()
        server.server_close()


async def bulk_load(database_url: str) -> dict[str, float]:
    """100,000 paragraphs through the repositories, in batches; one upsert of all their word counts."""
    # Bulk statements are slow by design: no slow-query lines for them.
    settings = load_settings(
        {"DATABASE_URL": database_url, "SECRET_KEY": "b" * 40, "SLOW_QUERY_MS": "600000"}, env_file=None
    )
    config = build_database_config(settings)
    uow = SqlAlchemyUnitOfWorkFactory.for_database(config)
    rng = random.Random(2026)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    counts: Counter[str] = Counter()
    started = time.perf_counter()
    for batch_start in range(0, PARAGRAPHS, BATCH):
        batch = []
        for n in range(batch_start, min(batch_start + BATCH, PARAGRAPHS)):
            at = start + timedelta(milliseconds=n)
            text = metaphor_paragraph(rng, SENTENCES)
            paragraph_id = uuid.UUID(int=(int(at.timestamp() * 1000) << 80) | (0x7 << 76) | (2 << 62) | n)
            batch.append(Paragraph(paragraph_id, text, at))
            counts.update(count_words(text))
        async with uow() as tx:
            await tx.paragraphs.add_many(batch)
    async with uow() as tx:
        await tx.word_counts.add(counts)
    loaded = time.perf_counter() - started
    await config.get_engine().dispose()
    vacuum_started = time.perf_counter()
    url = make_url(database_url)
    connection = await asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username, database=url.database)
    try:
        await connection.execute("VACUUM ANALYZE paragraph, paragraph_search, paragraph_term_bitmap, word_count")
        # The load's dirty pages written out now, not by a checkpoint in the middle of the timings,
        # and any autovacuum the load started left to finish first.
        await connection.execute("CHECKPOINT")
        for _ in range(60):
            busy = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
            )
            if not busy:
                break
            await asyncio.sleep(1)
    finally:
        await connection.close()
    return {"load_s": round(loaded, 1), "vacuum_analyze_s": round(time.perf_counter() - vacuum_started, 1)}


class Reference:
    """The reference service's way, in this process, on the same database (asyncpg)."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    @staticmethod
    def _where(words: list[str], operator: str) -> str:
        joiner = " AND " if operator == "and" else " OR "
        return joiner.join(f"content ~* ${i + 1}" for i in range(len(words)))

    async def search(self, words: list[str], operator: str) -> tuple[int, list[str]]:
        patterns = [rf"\y{w}\y" for w in words]
        where = self._where(words, operator)
        total = await self._connection.fetchval(f"SELECT count(*) FROM paragraph WHERE {where}", *patterns)
        rows = await self._connection.fetch(
            f"SELECT id FROM paragraph WHERE {where} ORDER BY id LIMIT {PAGE}", *patterns
        )
        return int(total), [str(r["id"]) for r in rows]

    async def top_words(self) -> list[tuple[str, int]]:
        counts: Counter[str] = Counter()
        word = re.compile(r"\b\w+\b")
        for record in await self._connection.fetch("SELECT content FROM paragraph"):
            counts.update(word.findall(record["content"].lower()))
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:10]


def timed(call: Callable[[], Any], rounds: int) -> tuple[Any, float]:
    samples, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = call()
        samples.append(time.perf_counter() - started)
    return result, median_ms(samples)


def run() -> dict[str, Any]:
    figures: dict[str, Any] = {"paragraphs": PARAGRAPHS}
    name = f"parley_bench_knowledge_{uuid.uuid4().hex[:8]}"
    database_url = make_url(DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    cache = redis.Redis.from_url(REDIS_URL)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        Migrator(load_settings({"DATABASE_URL": database_url, "SECRET_KEY": "b" * 40}, env_file=None)).upgrade()
        figures.update(asyncio.run(bulk_load(database_url)))
        print(f"   loaded {PARAGRAPHS} paragraphs in {figures['load_s']} s")
        with (
            fake_dictionary() as dictionary_url,
            parley_server(
                DATABASE_URL=database_url,
                REDIS_URL=REDIS_URL,
                DICTIONARY_API_URL=dictionary_url,
                RATE_LIMIT_ENABLED="false",
                ADMIN_EMAIL=EMAIL,
                ADMIN_PASSWORD=PASSWORD,
                DB_POOL_SIZE="4",
            ) as base,
        ):
            figures.update(measure(base, database_url, dictionary_url, cache))
    finally:
        for key in cache.scan_iter(match=CACHE_PREFIX + "*"):
            cache.unlink(key)
        cache.close()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return figures


def measure(base: str, database_url: str, dictionary_url: str, cache: redis.Redis) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    url = make_url(database_url)
    loop = asyncio.new_event_loop()
    connection = loop.run_until_complete(
        asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username, database=url.database)
    )
    reference = Reference(connection)
    # Parley in this process too, on the same database: the use cases without HTTP.
    settings = load_settings(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "DICTIONARY_API_URL": dictionary_url,
            "SECRET_KEY": "b" * 40,
            "LOG_LEVEL": "WARNING",
        },
        env_file=None,
    )
    container = build_container(settings, role="cli")
    loop.run_until_complete(container.startup())
    system = Principal.system()
    with httpx.Client(base_url=base, timeout=60) as client:
        token = client.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": EMAIL, "password": PASSWORD}
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        lean = LeanClient(base, headers={"Authorization": f"Bearer {token}"})

        ratios: list[float] = []
        in_process_ratios: list[float] = []
        for label, words, operator in QUERIES:
            body = {"words": words, "operator": operator, "limit": PAGE}

            def ours(body: dict[str, Any] = body) -> dict[str, Any]:
                return lean.request("POST", "/api/v1/paragraphs/search", body)  # type: ignore[no-any-return]

            def ours_httpx(body: dict[str, Any] = body) -> dict[str, Any]:
                response = client.post("/api/v1/paragraphs/search", json=body)
                response.raise_for_status()
                return response.json()  # type: ignore[no-any-return]

            def in_process(command: SearchParagraphsQuery = SearchParagraphsQuery(words, operator, PAGE)) -> Any:
                return loop.run_until_complete(container.use_cases.knowledge.search_paragraphs(system, command))

            def theirs(w: list[str] = words, o: str = operator) -> tuple[int, list[str]]:
                return loop.run_until_complete(reference.search(w, o))

            for _ in range(WARM_UP):
                ours()
                in_process()
            # Side by side, in passes: each pass times a block of searches through the API, a block in
            # process and a block of reference scans, each block after one untimed call (a process that
            # sat idle while another block ran answers its first requests slower on this machine).
            # Over the passes, a noisy moment weighs on all three; the figures are the medians of all
            # the samples of each way.
            ours_samples: list[float] = []
            in_process_samples: list[float] = []
            reference_samples: list[float] = []
            per_pass = SEARCH_ROUNDS // PASSES
            for _ in range(PASSES):
                ours()
                for _ in range(per_pass):
                    started = time.perf_counter()
                    answer = ours()
                    ours_samples.append(time.perf_counter() - started)
                in_process()
                for _ in range(per_pass):
                    started = time.perf_counter()
                    found = in_process()
                    in_process_samples.append(time.perf_counter() - started)
                theirs()
                for _ in range(REFERENCE_ROUNDS // PASSES):
                    started = time.perf_counter()
                    expected = theirs()
                    reference_samples.append(time.perf_counter() - started)
            reference_ms = median_ms(reference_samples)
            ours_ms = median_ms(ours_samples)
            in_process_ms = median_ms(in_process_samples)
            assert (answer["total_count"], [p["id"] for p in answer["paragraphs"]]) == expected, label
            assert (found.total_count, [str(p.id) for p in found.paragraphs]) == expected, label
            ours_httpx()
            _, httpx_ms = timed(ours_httpx, SEARCH_ROUNDS // PASSES)
            figures[f"search_{label}_api_httpx_ms"] = httpx_ms
            ratio = round(reference_ms / ours_ms, 1)
            ratios.append(ratio)
            in_process_ratios.append(round(reference_ms / in_process_ms, 1))
            figures[f"search_{label}_matches"] = answer["total_count"]
            figures[f"search_{label}_reference_ms"] = reference_ms
            figures[f"search_{label}_api_ms"] = ours_ms
            figures[f"search_{label}_in_process_ms"] = in_process_ms
            figures[f"search_{label}_speedup_api"] = ratio
            figures[f"search_{label}_speedup_in_process"] = in_process_ratios[-1]
        figures["search_speedup_api_min"] = min(ratios)
        figures["search_speedup_api_median"] = statistics.median(ratios)
        figures["search_speedup_in_process_min"] = min(in_process_ratios)
        figures["search_speedup_in_process_median"] = statistics.median(in_process_ratios)

        def dictionary() -> dict[str, Any]:
            return lean.request("GET", "/api/v1/paragraphs/dictionary")  # type: ignore[no-any-return]

        def dictionary_httpx() -> dict[str, Any]:
            response = client.get("/api/v1/paragraphs/dictionary")
            response.raise_for_status()
            return response.json()  # type: ignore[no-any-return]

        def clear(*patterns: str) -> None:
            for pattern in patterns:
                for key in cache.scan_iter(match=CACHE_PREFIX + pattern):
                    cache.unlink(key)

        clear("*")
        cold_samples, uncached_samples = [], []
        for _ in range(10):
            clear("*")
            started = time.perf_counter()
            answer = dictionary()
            cold_samples.append(time.perf_counter() - started)
        for _ in range(50):
            clear("top_words_definitions:*", "word_frequencies:*")
            started = time.perf_counter()
            answer = dictionary()
            uncached_samples.append(time.perf_counter() - started)
        in_process_samples = []
        for _ in range(50):
            clear("top_words_definitions:*", "word_frequencies:*")
            started = time.perf_counter()
            loop.run_until_complete(container.use_cases.knowledge.get_dictionary(system, GetDictionaryQuery()))
            in_process_samples.append(time.perf_counter() - started)
        dictionary()
        answer, cached_ms = timed(dictionary, 200)
        dictionary_httpx()
        _, cached_httpx_ms = timed(dictionary_httpx, 200)
        lean.close()
        expected_top, recount_ms = timed(lambda: loop.run_until_complete(reference.top_words()), 3)
        assert [(w["word"], w["count"]) for w in answer["words"]] == expected_top
        assert answer["definitions_available"]
        assert all(w["definitions"] for w in answer["words"])
        figures["dictionary_cold_api_ms"] = median_ms(cold_samples)
        figures["dictionary_uncached_api_ms"] = median_ms(uncached_samples)
        figures["dictionary_uncached_in_process_ms"] = median_ms(in_process_samples)
        figures["dictionary_cached_api_ms"] = cached_ms
        figures["dictionary_cached_api_httpx_ms"] = cached_httpx_ms
        figures["dictionary_reference_recount_ms"] = recount_ms
        figures["dictionary_uncached_speedup"] = round(recount_ms / figures["dictionary_uncached_api_ms"], 1)
        figures["top_word"] = f"{answer['words'][0]['word']} ({answer['words'][0]['count']})"
    loop.run_until_complete(container.shutdown())
    loop.run_until_complete(connection.close())
    loop.close()
    return figures
