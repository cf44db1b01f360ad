"""Three `parley serve` and two `parley worker` behind HAProxy on one PostgreSQL and one Redis:
200 chat replies over SSE and WebSocket while one instance leaves half-way (SIGTERM, as in a rolling
deploy). Every reply completes, on its instance or resumed through another; nothing is lost, sent
twice or charged twice; the AI rate limit holds across the three instances."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.cluster import Cluster, LoadStats, Reply, sign_up_users, sse_reply, ws_replies

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

USERS = 20
TURNS = 5  # per conversation; each user has one SSE and one WebSocket conversation: 200 replies
WORDS = " ".join(f"w{i}" for i in range(16))
#: The free tier's AI requests per minute (src/infrastructure/rate_limit/policies.py).
AI_FREE_PER_MINUTE = 20


@pytest.fixture
def cluster(postgres_url: str, redis_url: str) -> Iterator[Cluster]:
    running = Cluster(
        postgres_url,
        redis_url,
        instances=3,
        workers=2,
        env={
            "OFFLINE_TOKEN_DELAY_MS": "20",
            "SHUTDOWN_TIMEOUT": "20",
            "RATE_LIMIT_ANON_PER_MINUTE": "10000",
            "RATE_LIMIT_USER_PER_MINUTE": "10000",
            "DB_POOL_SIZE": "10",
        },
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()
        shutil.rmtree(running.workdir, ignore_errors=True)


async def check_ai_limit_across_instances(client: httpx.AsyncClient) -> tuple[int, int, float]:
    """One user asks for more replies at once than the free tier allows in a minute, spread over the
    three instances by the balancer: the limit is one, shared through Redis."""
    (headers,) = await sign_up_users(client, "limited", 1)
    conversations = []
    for _ in range(AI_FREE_PER_MINUTE + 10):
        created = await client.post("/api/v1/conversations", json={}, headers=headers)
        assert created.status_code == 201, created.text
        conversations.append(created.json()["id"])

    async def send(conversation_id: str) -> int:
        sent = await client.post(
            f"/api/v1/conversations/{conversation_id}/messages", json={"content": "hi"}, headers=headers
        )
        if sent.status_code == 429:
            assert sent.json()["code"] == "rate_limited", sent.text
        assert sent.status_code in (201, 429), sent.text
        return sent.status_code

    started = time.monotonic()
    statuses = await asyncio.gather(*(send(c) for c in conversations))
    return statuses.count(201), statuses.count(429), time.monotonic() - started


async def run_load(cluster: Cluster) -> tuple[LoadStats, int]:
    stats = LoadStats()
    ws_url = cluster.base_url.replace("http://", "ws://") + "/api/v1/ws/chat"
    async with httpx.AsyncClient(base_url=cluster.base_url, timeout=60) as client:
        users = await sign_up_users(client, "crowd", USERS)
        jobs: list[Any] = []
        for index, headers in enumerate(users):
            sse_conversation = (await client.post("/api/v1/conversations", json={}, headers=headers)).json()["id"]
            ws_conversation = (await client.post("/api/v1/conversations", json={}, headers=headers)).json()["id"]
            sse_turns = [Reply(sse_conversation, f"u{index} sse {k} {WORDS}", "sse") for k in range(TURNS)]
            ws_turns = [Reply(ws_conversation, f"u{index} ws {k} {WORDS}", "ws") for k in range(TURNS)]
            stats.replies += sse_turns + ws_turns

            async def sse_turns_in_order(headers: dict[str, str] = headers, turns: list[Reply] = sse_turns) -> None:
                for reply in turns:
                    await sse_reply(client, headers, reply, stats)

            jobs.append(sse_turns_in_order())
            jobs.append(ws_replies(ws_url, headers, ws_turns, stats))

        async def leave_half_way() -> int:
            while stats.completed < len(stats.replies) // 2:
                await asyncio.sleep(0.05)
            # Leave while WebSocket replies are under way on the instance (the balancer's round robin
            # puts about a third there, but on a loaded host they may all be elsewhere or done).
            while stats.completed < len(stats.replies) * 3 // 4:
                if await asyncio.to_thread(cluster.gauge, cluster.api[0], "parley_websockets_open") >= 1:
                    break
                await asyncio.sleep(0.1)
            return await asyncio.to_thread(cluster.terminate, cluster.api[0])

        leaving = asyncio.create_task(leave_half_way())
        await asyncio.wait_for(asyncio.gather(*jobs), timeout=150)
        exit_code = await asyncio.wait_for(leaving, timeout=60)
    return stats, exit_code


async def stored_facts(database_url: str) -> dict[str, Any]:
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        crowd = "SELECT id FROM user_account WHERE email LIKE 'crowd%'"
        return {
            "user_messages": await connection.fetchval(
                f"SELECT count(*) FROM chat_message WHERE role = 'user' AND user_id IN ({crowd})"
            ),
            "duplicate_user_messages": await connection.fetchval(
                f"SELECT count(*) FROM (SELECT content FROM chat_message WHERE role = 'user' AND user_id IN ({crowd})"
                " GROUP BY content HAVING count(*) > 1) AS twice"
            ),
            "replies": dict(
                await connection.fetch(
                    f"SELECT status, count(*) FROM chat_message WHERE role = 'assistant' AND user_id IN ({crowd})"
                    " GROUP BY status"
                )
            ),
            "usage_records": await connection.fetchval(f"SELECT count(*) FROM usage_record WHERE user_id IN ({crowd})"),
            "charged_twice": await connection.fetchval(
                f"SELECT count(*) FROM (SELECT message_id FROM usage_record WHERE user_id IN ({crowd})"
                " GROUP BY message_id HAVING count(*) > 1) AS twice"
            ),
            "requests_counted": await connection.fetchval(
                f"SELECT coalesce(sum(requests), 0) FROM usage_month WHERE user_id IN ({crowd})"
            ),
        }
    finally:
        await connection.close()


def test_three_instances_behind_haproxy_lose_nothing_when_one_leaves(cluster: Cluster, postgres_url: str) -> None:
    async def scenario() -> tuple[tuple[int, int, float], LoadStats, int]:
        async with httpx.AsyncClient(base_url=cluster.base_url, timeout=60) as client:
            limits = await check_ai_limit_across_instances(client)
        stats, exit_code = await run_load(cluster)
        return limits, stats, exit_code

    (accepted, limited, burst_seconds), stats, exit_code = asyncio.run(scenario())

    # One limit for the three instances (per-process limits would have let all 30 through): the
    # allowance, plus what refilled (one request per 3 s) while the burst was being served.
    assert AI_FREE_PER_MINUTE <= accepted <= AI_FREE_PER_MINUTE + 1 + burst_seconds // 3, burst_seconds
    assert limited == AI_FREE_PER_MINUTE + 10 - accepted

    # The instance left cleanly, after telling its WebSocket clients to go elsewhere.
    assert exit_code == 0, cluster.api[0].logs()[-3000:]
    drained = [line for line in cluster.api[0].logs().splitlines() if "drain_started" in line]
    assert drained
    assert stats.reconnect_frames >= 1, drained
    assert sum(reply.resumes for reply in stats.replies) >= 1, drained

    # Every reply completed, whole, with every event once and in order, wherever it was read.
    assert len(stats.replies) == 2 * USERS * TURNS == 200
    for reply in stats.replies:
        assert reply.done is not None, reply
        assert reply.done["finish_reason"] == "stop", reply.done
        assert reply.text == reply.content == reply.done["content"], reply
        ids = reply.event_ids
        assert ids == list(range(ids[0], ids[0] + len(ids))), reply

    # Stored once each, charged once each.
    facts = asyncio.run(stored_facts(postgres_url))
    assert facts["user_messages"] == 200, facts
    assert facts["duplicate_user_messages"] == 0, facts
    assert facts["replies"] == {"complete": 200}, facts
    assert facts["charged_twice"] == 0, facts
    assert facts["usage_records"] == 200, facts
    assert facts["requests_counted"] == 200, facts
    # The workers stayed up throughout.
    assert all(worker.process.poll() is None for worker in cluster.workers)
