"""HTTP response caching, through the real app: hits, keys per query and per user, never for writes."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Controller, Litestar, MediaType, Request, get, post
from litestar.enums import ScopeType
from litestar.params import FromQuery, SkipValidation
from litestar.testing import AsyncTestClient
from litestar.types import Receive, Scope, Send

from src.domain.shared.errors import NotFound
from src.infrastructure.container import Container
from src.infrastructure.observability.metrics import METRICS
from src.interfaces.http.app import create_app
from src.interfaces.http.response_cache import CacheOptionError, invalidate
from tests.conftest import SettingsFactory
from tests.redis_process import RedisProcess

HANG_GUARD_S = 10  # a request with Redis gone must not hang; this is no speed measurement

PUBLIC = {"cache": {"ttl": 30, "scope": "public", "namespace": "items"}}
PER_USER = {"cache": {"ttl": 30, "scope": "user", "namespace": "mine"}}


def routes(calls: Counter[str]) -> list[Any]:
    """Test-only routes that count how often their handler really runs."""

    @get("/items", opt=PUBLIC, sync_to_thread=False)
    def list_items(page: FromQuery[int] = 1, size: FromQuery[int] = 10) -> dict[str, Any]:
        calls["items"] += 1
        return {"page": page, "size": size, "run": calls["items"]}

    @get("/items/text", opt=PUBLIC, media_type=MediaType.TEXT, sync_to_thread=False)
    def items_as_text() -> str:
        calls["text"] += 1
        return f"run {calls['text']}"

    @get("/items/missing", opt=PUBLIC, sync_to_thread=False)
    def missing_item() -> None:
        calls["missing"] += 1
        raise NotFound("no such item")

    @get("/mine", opt=PER_USER, sync_to_thread=False)
    def my_things(request: Request[Any, Any, Any]) -> dict[str, Any]:
        calls["mine"] += 1
        user = request.scope.get("user")
        return {"owner": user["id"] if user else None, "run": calls["mine"]}

    @post("/mine/reset")
    async def reset_mine(request: Request[Any, Any, Any], container: SkipValidation[Container]) -> dict[str, int]:
        # The data of one user changed: only that user's cached responses go.
        return {"invalidated": await invalidate(container.cache, "mine", user_id=request.scope["user"]["id"])}

    class ItemWrites(Controller):
        path = "/items/writes"
        opt = PUBLIC  # every route of the controller opts in; only its GET may be cached

        @post()
        async def create(self, container: SkipValidation[Container]) -> dict[str, int]:
            calls["create"] += 1
            # The items changed: every cached response of the namespace goes.
            invalidated = await invalidate(container.cache, "items")
            return {"run": calls["create"], "invalidated": invalidated}

    return [list_items, items_as_text, missing_item, my_things, reset_mine, ItemWrites]


def with_test_user(app: Litestar) -> Litestar:
    """Stands in for authentication: ``X-Test-User: <id>`` becomes ``scope["user"]``."""
    inner = app.asgi_handler

    async def set_user(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            for name, value in scope["headers"]:
                if name == b"x-test-user":
                    scope["user"] = {"id": value.decode()}
        await inner(scope, receive, send)

    app.asgi_handler = set_user
    return app


@pytest.fixture
def calls() -> Counter[str]:
    return Counter()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def cache_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Runs the test on the in-process cache and on Redis."""
    if request.param == "memory":
        return {}
    return {"REDIS_URL": str(request.getfixturevalue("redis_url"))}


@pytest.fixture
async def app(
    make_settings: SettingsFactory, sqlite_url: str, cache_env: dict[str, str], calls: Counter[str]
) -> Litestar:
    settings = make_settings(DATABASE_URL=sqlite_url, **cache_env)
    return with_test_user(create_app(settings, extra_route_handlers=routes(calls)))


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app) as test_client:
        yield test_client


def cache_count(name: str, result: str) -> float:
    return METRICS.registry.get_sample_value("parley_cache_requests_total", {"cache": name, "result": result}) or 0.0


async def test_a_second_get_is_served_from_the_cache(client: AsyncTestClient[Litestar], calls: Counter[str]) -> None:
    hits_before, misses_before = cache_count("http:items", "hit"), cache_count("http:items", "miss")
    first = await client.get("/items")
    second = await client.get("/items")

    assert first.status_code == second.status_code == 200
    assert first.headers["x-cache"] == "MISS"
    assert second.headers["x-cache"] == "HIT"
    assert second.json() == first.json() == {"page": 1, "size": 10, "run": 1}
    assert second.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert second.headers["x-request-id"] != first.headers["x-request-id"]  # per request, never cached
    assert calls["items"] == 1
    assert cache_count("http:items", "hit") - hits_before == 1
    assert cache_count("http:items", "miss") - misses_before == 1


async def test_a_cached_response_keeps_its_content_type(client: AsyncTestClient[Litestar], calls: Counter[str]) -> None:
    await client.get("/items/text")
    cached = await client.get("/items/text")
    assert cached.headers["x-cache"] == "HIT"
    assert cached.headers["content-type"].startswith("text/plain")
    assert cached.text == "run 1"
    assert calls["text"] == 1


async def test_query_strings_are_part_of_the_key_in_any_order(
    client: AsyncTestClient[Litestar], calls: Counter[str]
) -> None:
    page_one = await client.get("/items?page=1&size=5")
    page_two = await client.get("/items?page=2&size=5")
    reordered = await client.get("/items?size=5&page=2")

    assert page_one.json()["page"] == 1
    assert page_two.headers["x-cache"] == "MISS"
    assert page_two.json() == {"page": 2, "size": 5, "run": 2}
    assert reordered.headers["x-cache"] == "HIT"
    assert reordered.json() == page_two.json()
    assert calls["items"] == 2


async def test_one_user_is_never_served_another_users_response(
    client: AsyncTestClient[Litestar], calls: Counter[str]
) -> None:
    alice = await client.get("/mine", headers={"X-Test-User": "alice"})
    bob = await client.get("/mine", headers={"X-Test-User": "bob"})
    alice_again = await client.get("/mine", headers={"X-Test-User": "alice"})
    bob_again = await client.get("/mine", headers={"X-Test-User": "bob"})

    assert (alice.headers["x-cache"], bob.headers["x-cache"]) == ("MISS", "MISS")
    assert bob.json() == {"owner": "bob", "run": 2}
    assert alice_again.headers["x-cache"] == "HIT"
    assert alice_again.json() == {"owner": "alice", "run": 1}
    assert bob_again.json() == {"owner": "bob", "run": 2}
    assert calls["mine"] == 2


async def test_a_user_scoped_route_without_a_user_is_not_cached(
    client: AsyncTestClient[Litestar], calls: Counter[str]
) -> None:
    await client.get("/mine", headers={"X-Test-User": "alice"})
    anonymous = [await client.get("/mine") for _ in range(2)]

    assert [r.json() for r in anonymous] == [{"owner": None, "run": 2}, {"owner": None, "run": 3}]
    assert all("x-cache" not in r.headers for r in anonymous)


async def test_post_is_never_cached(client: AsyncTestClient[Litestar], calls: Counter[str]) -> None:
    responses = [await client.post("/items/writes") for _ in range(3)]
    assert [r.status_code for r in responses] == [201] * 3
    assert [r.json()["run"] for r in responses] == [1, 2, 3]
    assert all("x-cache" not in r.headers for r in responses)


async def test_error_responses_are_not_cached(client: AsyncTestClient[Litestar], calls: Counter[str]) -> None:
    responses = [await client.get("/items/missing") for _ in range(2)]
    assert [r.status_code for r in responses] == [404, 404]
    assert [r.headers["x-cache"] for r in responses] == ["MISS", "MISS"]
    assert calls["missing"] == 2


async def test_a_write_that_invalidates_makes_the_next_get_a_miss(
    client: AsyncTestClient[Litestar], calls: Counter[str]
) -> None:
    await client.get("/items")
    await client.get("/items?page=2")
    assert (await client.get("/items")).headers["x-cache"] == "HIT"

    write = await client.post("/items/writes")
    assert write.json()["invalidated"] == 2
    fresh = await client.get("/items")
    assert fresh.headers["x-cache"] == "MISS"
    assert fresh.json()["run"] == 3
    assert (await client.get("/items")).headers["x-cache"] == "HIT"


async def test_invalidating_one_users_entries_leaves_the_others(
    client: AsyncTestClient[Litestar], calls: Counter[str]
) -> None:
    for user in ("alice", "bob"):
        await client.get("/mine", headers={"X-Test-User": user})

    reset = await client.post("/mine/reset", headers={"X-Test-User": "alice"})
    assert reset.json() == {"invalidated": 1}
    assert (await client.get("/mine", headers={"X-Test-User": "alice"})).headers["x-cache"] == "MISS"
    assert (await client.get("/mine", headers={"X-Test-User": "bob"})).headers["x-cache"] == "HIT"


def test_a_malformed_cache_option_stops_the_app_at_start(make_settings: SettingsFactory, sqlite_url: str) -> None:
    @get("/bad", opt={"cache": {"namespace": "items", "scope": "everyone"}}, sync_to_thread=False)
    def bad() -> str:
        return "never served"

    with pytest.raises(CacheOptionError, match="scope"):
        create_app(make_settings(DATABASE_URL=sqlite_url), extra_route_handlers=[bad])


# -- Redis going away --------------------------------------------------------------------------


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path)
    server.start()
    yield server
    server.stop()


async def test_cached_routes_keep_answering_while_redis_is_down(
    make_settings: SettingsFactory, sqlite_url: str, own_redis: RedisProcess, calls: Counter[str]
) -> None:
    settings = make_settings(
        DATABASE_URL=sqlite_url, REDIS_URL=own_redis.url, REDIS_TIMEOUT="0.2", REDIS_BREAKER_RESET_SECONDS="0.3"
    )
    async with AsyncTestClient(create_app(settings, extra_route_handlers=routes(calls))) as client:
        await client.get("/items")
        assert (await client.get("/items")).headers["x-cache"] == "HIT"

        own_redis.kill()
        async with asyncio.timeout(HANG_GUARD_S):
            during = [await client.get("/items") for _ in range(5)]
        assert [r.status_code for r in during] == [200] * 5
        assert [r.headers["x-cache"] for r in during] == ["MISS"] * 5
        assert [r.json()["run"] for r in during] == [2, 3, 4, 5, 6]  # the handler ran for each

        own_redis.start()
        deadline = asyncio.get_running_loop().time() + 15
        while (await client.get("/items")).headers["x-cache"] != "HIT":
            assert asyncio.get_running_loop().time() < deadline, "caching did not resume after Redis came back"
            await asyncio.sleep(0.1)
