"""Chat: replies streamed at once over SSE and WebSocket vs the bare model, idle-socket memory, send cost.

On PostgreSQL (a throwaway database on ``BENCH_DATABASE_URL``, default the test server on loopback)
and Redis (``BENCH_CHAT_REDIS_URL``, default db 9 on loopback, emptied before and after), with a real
`parley serve` (one process) and the offline model answering at full speed
(``OFFLINE_TOKEN_DELAY_MS=0``). Rate limits are off (``RATE_LIMIT_ENABLED=false`` turns off the HTTP
limits and the AI per-minute limits); ``DB_POOL_TIMEOUT`` is 30 s and ``REDIS_TIMEOUT`` 2 s (see
``SERVER_ENV``: with the defaults, 200 replies at once on two busy cores can make sends fail).
400 users, each with one conversation, are written straight through the repositories and get
access tokens from the same issuer the server checks (no password hashing in the way). The SSE
replies and the WebSocket replies are sent by different users: a user's open sockets follow all of
their replies (every tab shows them), which would make the SSE figures pay for a WebSocket too.

- streams: ``CONCURRENCY`` (200) replies at once, one per user, each echoing a 20-word message (20
  deltas): over SSE (``POST .../messages`` with ``Accept: text/event-stream``, httpx + httpx-sse) and
  over the WebSocket (a ``send`` frame on an open ``/api/v1/ws/chat``, the ``websockets`` client), in
  alternating rounds; and the same offline model called directly in this process, 200 streams at
  once. Time to first delta is from just before the request (frame) is sent; replies per second are
  the round's replies over its wall time. The overhead is Parley's p50 minus the bare model's. The
  same, one reply at a time, shows the overhead without queueing. The client runs on the same two
  cores as the server: its parsing counts in the figures.
- idle sockets: ``IDLE_SOCKETS`` (1,000) WebSockets opened (5 per user: under the per-user limit of
  ``WS_MAX_CONNECTIONS_PER_USER``, 10), signed in (``ready``) and left idle, on a fresh server; its
  RSS after minus before, divided by their number.
- send cost: sequential JSON sends (201 once the reply is stored) in a conversation with 10 earlier
  messages and in one with 10,000, alternating. Every seeded message is ~620 tokens, so in both the
  context window of ``offline/echo`` (8,192 less 2,048 for the answer) holds the latest 9 or 10
  messages: the prompts are alike and only the history's length differs. Goal: within 20 %.

    uv run python -m bench chat       # BENCH_CHAT_CONCURRENCY=200 BENCH_CHAT_ROUNDS=3 by default
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis
import websockets
from httpx_sse import aconnect_sse
from sqlalchemy.engine import make_url

from bench.support import DATABASE_URL, SERVER_PIDS, admin, parley_server
from src.application.shared.ids import new_id
from src.domain.chat.context import message_tokens
from src.domain.chat.model import Conversation, Message, MessageStatus
from src.domain.identity.model import Role, Tier, User
from src.domain.llm.model import ChatRequest, FinishReason, MessageRole, PromptMessage, TextDelta, Usage
from src.infrastructure.clock import SystemClock
from src.infrastructure.container import build_container
from src.infrastructure.llm.offline import OfflineChatModel
from src.infrastructure.security.passwords import DUMMY_HASH
from src.infrastructure.settings import Settings, load_settings

CONCURRENCY = int(os.environ.get("BENCH_CHAT_CONCURRENCY", "200"))
ROUNDS = int(os.environ.get("BENCH_CHAT_ROUNDS", "3"))
SEQUENTIAL = 50
IDLE_SOCKETS = 1000
SOCKETS_PER_USER = 5
SEND_SAMPLES = 40
SHORT_HISTORY = 10
LONG_HISTORY = 10_000
REDIS_URL = os.environ.get("BENCH_CHAT_REDIS_URL", "redis://127.0.0.1:6379/9")
#: The key ``bench.support`` starts servers with: tokens issued here verify there.
SECRET_KEY = "benchmark-secret-key-0123456789-abcdef"
MESSAGE = " ".join(f"word{n}" for n in range(20))
#: ~620 estimated tokens: ten of them fill offline/echo's room for history (8,192 - 2,048).
HISTORY_TEXT = " ".join(f"history{n:04d}" for n in range(226))
SEND_TEXT = "How long does a send take with a long history?"
SERVER_ENV = {
    "OFFLINE_TOKEN_DELAY_MS": "0",
    "RATE_LIMIT_ENABLED": "false",
    "ACCESS_TOKEN_TTL_SECONDS": "7200",
    "LOG_LEVEL": "ERROR",
    # 200 replies at once saturate one process on two cores: with the defaults (a 10 s wait for a
    # pooled connection, 0.5 s for Redis) a busy machine sees some sends fail (500, pool timeout)
    # and the Redis breaker open on event-loop lag. Overridable: BENCH_CHAT_DB_POOL_TIMEOUT and
    # BENCH_CHAT_REDIS_TIMEOUT (failures are counted in the *_errors figures).
    "DB_POOL_TIMEOUT": os.environ.get("BENCH_CHAT_DB_POOL_TIMEOUT", "30"),
    "REDIS_TIMEOUT": os.environ.get("BENCH_CHAT_REDIS_TIMEOUT", "2"),
}

#: (seconds to the first delta, seconds to the end)
Timing = tuple[float, float]


@dataclass(frozen=True)
class Seeded:
    tokens: list[str]
    conversations: list[str]
    short_conversation: str
    long_conversation: str
    seed_s: float


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))]


# -- seeding -------------------------------------------------------------------------------------


def settings_for(database_url: str) -> Settings:
    return load_settings(
        {"DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET_KEY, **SERVER_ENV},
        env_file=None,
    )


def history(conversation: Conversation, count: int, now: Any) -> list[Message]:
    """``count`` complete messages, user and assistant in turn, with their running token counts."""
    messages, token_start = [], 0
    for n in range(count):
        at = now - timedelta(seconds=count - n)
        tokens = message_tokens(HISTORY_TEXT)
        assistant = n % 2 == 1
        messages.append(
            Message(
                id=new_id(at),
                conversation_id=conversation.id,
                user_id=conversation.user_id,
                seq=n + 1,
                role=MessageRole.ASSISTANT if assistant else MessageRole.USER,
                content=HISTORY_TEXT,
                status=MessageStatus.COMPLETE,
                created_at=at,
                updated_at=at,
                model="offline/echo",
                provider="offline",
                finish_reason=FinishReason.STOP if assistant else None,
                usage=Usage(input_tokens=tokens, output_tokens=tokens) if assistant else None,
                token_start=token_start,
                token_count=tokens,
            )
        )
        token_start += tokens
    conversation.token_total, conversation.next_seq = token_start, count + 1
    return messages


async def seed(database_url: str) -> Seeded:
    """400 users with a conversation each; the first user also gets a short and a long history."""
    started = time.perf_counter()
    container = build_container(settings_for(database_url), role="cli")
    now = container.clock.now()
    users = [
        User(
            id=new_id(now),
            email=f"bench{n}@example.com",
            display_name=f"Bench {n}",
            password_hash=DUMMY_HASH,
            role=Role.CREATOR,
            tier=Tier.FREE,
            is_active=True,
            created_at=now,
            updated_at=now,
        )
        for n in range(max(2 * CONCURRENCY, IDLE_SOCKETS // SOCKETS_PER_USER))
    ]
    conversations = [Conversation.start(id=new_id(now), user_id=u.id, model="offline/echo", now=now) for u in users]
    async with container.uow() as tx:
        for user in users:
            await tx.users.add(user)
        for conversation in conversations:
            await tx.conversations.add(conversation)
    histories = {}
    for label, count in (("short", SHORT_HISTORY), ("long", LONG_HISTORY)):
        conversation = Conversation.start(id=new_id(now), user_id=users[0].id, model="offline/echo", now=now)
        messages = history(conversation, count, now)
        async with container.uow() as tx:
            await tx.conversations.add(conversation)
        for batch in range(0, len(messages), 1000):
            async with container.uow() as tx:
                for message in messages[batch : batch + 1000]:
                    await tx.messages.add(message)
        histories[label] = str(conversation.id)
    tokens = [container.credentials.access_tokens.issue(user, now=now).token for user in users]
    await container.shutdown()
    await container.database.get_engine().dispose()
    url = make_url(database_url)
    connection = await asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username, database=url.database)
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return Seeded(
        tokens=tokens,
        conversations=[str(c.id) for c in conversations],
        short_conversation=histories["short"],
        long_conversation=histories["long"],
        seed_s=round(time.perf_counter() - started, 1),
    )


# -- the three ways of streaming a reply ---------------------------------------------------------


async def direct_reply(model: OfflineChatModel) -> Timing:
    request = ChatRequest(messages=(PromptMessage(MessageRole.USER, MESSAGE),), model="offline/echo")
    started = time.perf_counter()
    first = None
    async for chunk in model.stream(request):
        if first is None and isinstance(chunk, TextDelta):
            first = time.perf_counter()
    assert first is not None
    return first - started, time.perf_counter() - started


async def sse_reply(
    http: httpx.AsyncClient, token: str, conversation_id: str, accepted: list[float] | None = None
) -> Timing:
    """One reply over SSE; ``accepted`` gets the time to the response headers (SendMessage returned)."""
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/conversations/{conversation_id}/messages"
    started = time.perf_counter()
    first = None
    async with aconnect_sse(http, "POST", url, json={"content": MESSAGE}, headers=headers) as source:
        if accepted is not None:
            accepted.append(time.perf_counter() - started)
        if source.response.status_code != 200:
            raise RuntimeError(f"SSE send answered {source.response.status_code}: {await source.response.aread()!r}")
        async for event in source.aiter_sse():
            if event.event == "delta" and first is None:
                first = time.perf_counter()
            elif event.event == "done":
                assert first is not None
                return first - started, time.perf_counter() - started
            elif event.event == "error":
                raise RuntimeError(f"the reply failed: {event.data}")
    raise RuntimeError("the SSE stream ended without done")


class ChatSocket:
    """One open ``/api/v1/ws/chat`` of one user."""

    def __init__(self, url: str, token: str) -> None:
        self._url = url
        self._token = token
        self._socket: Any = None
        self._sent = 0

    async def open(self) -> ChatSocket:
        self._socket = await websockets.connect(
            self._url,
            additional_headers={"Authorization": f"Bearer {self._token}"},
            ping_interval=None,
            max_size=2**20,
            open_timeout=60,
        )
        frame = json.loads(await self._socket.recv())
        if frame.get("type") != "ready":
            raise RuntimeError(f"expected a ready frame, got {frame}")
        return self

    async def close(self) -> None:
        await self._socket.close()

    async def reply(self, conversation_id: str, accepted: list[float] | None = None) -> Timing:
        """One reply; ``accepted`` gets the time to the ``ack`` (SendMessage returned)."""
        self._sent += 1
        client_id = f"r{self._sent}"
        frame = {"type": "send", "client_id": client_id, "content": MESSAGE, "conversation_id": conversation_id}
        started = time.perf_counter()
        await self._socket.send(json.dumps(frame))
        first = None
        message_id = None
        while True:
            event = json.loads(await self._socket.recv())
            kind = event.get("type")
            if kind == "ack" and event.get("client_id") == client_id:
                message_id = event["message_id"]
                if accepted is not None:
                    accepted.append(time.perf_counter() - started)
            elif kind == "delta" and event.get("message_id") == message_id and first is None:
                first = time.perf_counter()
            elif kind == "done" and event.get("message_id") == message_id:
                assert first is not None
                return first - started, time.perf_counter() - started
            elif kind == "error" and (event.get("client_id") == client_id or event.get("message_id") == message_id):
                raise RuntimeError(f"the reply failed: {event}")


async def concurrently(calls: Sequence[Callable[[], Awaitable[Timing]]]) -> tuple[list[Timing], int, float]:
    """Start every call at once; the timings of those that succeeded, how many failed, the round's wall time."""
    started = time.perf_counter()
    results = await asyncio.gather(*(call() for call in calls), return_exceptions=True)
    wall = time.perf_counter() - started
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        print(f"   {len(failures)} of {len(calls)} failed, e.g. {str(failures[0])[:200]}")
    return [r for r in results if not isinstance(r, BaseException)], len(failures), wall


def stream_figures(prefix: str, timings: list[Timing], walls: list[float], count: int) -> dict[str, float]:
    first = [t[0] for t in timings]
    total = [t[1] for t in timings]
    figures = {
        f"{prefix}_ttfd_p50_ms": ms(statistics.median(first)),
        f"{prefix}_ttfd_p99_ms": ms(percentile(first, 0.99)),
        f"{prefix}_total_p50_ms": ms(statistics.median(total)),
        f"{prefix}_total_p99_ms": ms(percentile(total, 0.99)),
    }
    if walls:
        figures[f"{prefix}_replies_per_s"] = round(count / statistics.median(walls), 1)
    return figures


async def streams(base: str, seeded: Seeded) -> dict[str, Any]:
    figures: dict[str, Any] = {"concurrency": CONCURRENCY, "rounds": ROUNDS, "deltas_per_reply": len(MESSAGE.split())}
    model = OfflineChatModel(SystemClock(), token_delay_ms=0)
    pairs = list(zip(seeded.tokens[:CONCURRENCY], seeded.conversations[:CONCURRENCY], strict=True))
    ws_pairs = list(zip(seeded.tokens[CONCURRENCY:], seeded.conversations[CONCURRENCY:], strict=True))
    ws_url = base.replace("http://", "ws://") + "/api/v1/ws/chat"
    limits = httpx.Limits(max_connections=CONCURRENCY + 10, max_keepalive_connections=CONCURRENCY + 10)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as http:
        sockets = await asyncio.gather(*(ChatSocket(ws_url, token).open() for token, _ in ws_pairs))
        try:
            # One at a time first: the overhead without any queueing (alternating, so drift hits all),
            # with where it goes: an authenticated GET (HTTP and sign-in alone), and the time until
            # SendMessage has returned (the SSE response headers, the WebSocket ack).
            one: dict[str, list[Timing]] = {"direct": [], "sse": [], "ws": []}
            accepted: dict[str, list[float]] = {"sse": [], "ws": [], "get": []}
            for n in range(SEQUENTIAL + 5):
                token, conversation = pairs[n % len(pairs)]
                socket, socket_conversation = sockets[n % len(sockets)], ws_pairs[n % len(sockets)][1]
                sse_accepted: list[float] = []
                ws_accepted: list[float] = []
                results = (
                    await direct_reply(model),
                    await sse_reply(http, token, conversation, sse_accepted),
                    await socket.reply(socket_conversation, ws_accepted),
                )
                started = time.perf_counter()
                (await http.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})).raise_for_status()
                got = time.perf_counter() - started
                if n >= 5:  # warm-up
                    for name, timing in zip(("direct", "sse", "ws"), results, strict=True):
                        one[name].append(timing)
                    accepted["sse"] += sse_accepted
                    accepted["ws"] += ws_accepted
                    accepted["get"].append(got)
            for name, samples in one.items():
                figures.update(stream_figures(f"single_{name}", samples, [], 1))
            figures["single_sse_response_headers_p50_ms"] = ms(statistics.median(accepted["sse"]))
            figures["single_ws_ack_p50_ms"] = ms(statistics.median(accepted["ws"]))
            figures["single_authenticated_get_p50_ms"] = ms(statistics.median(accepted["get"]))
            figures["single_sse_overhead_p50_ms"] = ms(
                statistics.median(s[0] - d[0] for s, d in zip(one["sse"], one["direct"], strict=True))
            )
            figures["single_ws_overhead_p50_ms"] = ms(
                statistics.median(w[0] - d[0] for w, d in zip(one["ws"], one["direct"], strict=True))
            )

            # Then CONCURRENCY at once, SSE and WebSocket rounds in turn after a warm-up round of each.
            timings: dict[str, list[Timing]] = {"direct": [], "sse": [], "ws": []}
            walls: dict[str, list[float]] = {"direct": [], "sse": [], "ws": []}
            errors = {"direct": 0, "sse": 0, "ws": 0}
            for round_number in range(ROUNDS + 1):
                rounds: dict[str, list[Callable[[], Awaitable[Timing]]]] = {
                    "direct": [lambda: direct_reply(model) for _ in pairs],
                    "sse": [partial(sse_reply, http, t, c) for t, c in pairs],
                    "ws": [partial(s.reply, c) for s, (_, c) in zip(sockets, ws_pairs, strict=True)],
                }
                for name, calls in rounds.items():
                    done, failed, wall = await concurrently(calls)
                    if round_number:  # the first round warms up
                        timings[name].extend(done)
                        walls[name].append(wall)
                        errors[name] += failed
                print(f"   round {round_number}: {', '.join(f'{k} {v[-1]:.2f} s' for k, v in walls.items() if v)}")
            for name in timings:
                figures.update(stream_figures(f"concurrent_{name}", timings[name], walls[name], CONCURRENCY))
                figures[f"concurrent_{name}_errors"] = errors[name]
        finally:
            await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    for way in ("sse", "ws"):
        overhead = figures[f"concurrent_{way}_ttfd_p50_ms"] - figures["concurrent_direct_ttfd_p50_ms"]
        figures[f"concurrent_{way}_overhead_p50_ms"] = round(overhead, 2)
    figures["server_db_pool_timeout_s"] = float(SERVER_ENV["DB_POOL_TIMEOUT"])
    figures["server_redis_timeout_s"] = float(SERVER_ENV["REDIS_TIMEOUT"])
    figures["goal_concurrent_p50_overhead_under_10ms"] = all(
        figures[f"concurrent_{w}_overhead_p50_ms"] < 10 for w in ("sse", "ws")
    )
    return figures


# -- idle sockets --------------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def idle_sockets(base: str, seeded: Seeded) -> dict[str, Any]:
    pid = SERVER_PIDS[base]
    url = base.replace("http://", "ws://") + "/api/v1/ws/chat"
    users = IDLE_SOCKETS // SOCKETS_PER_USER
    warm = await asyncio.gather(*(ChatSocket(url, seeded.tokens[n]).open() for n in range(20)))
    await asyncio.gather(*(s.close() for s in warm))
    await asyncio.sleep(2)
    before = rss_kib(pid)
    sockets: list[ChatSocket] = []
    for start in range(0, IDLE_SOCKETS, 100):  # in waves, so the handshakes do not time out
        wave = [ChatSocket(url, seeded.tokens[n % users]).open() for n in range(start, start + 100)]
        sockets.extend(await asyncio.gather(*wave))
    await asyncio.sleep(3)
    after = rss_kib(pid)
    await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    return {
        "idle_sockets": len(sockets),
        "idle_sockets_users": users,
        "server_rss_before_mib": round(before / 1024, 1),
        "server_rss_with_sockets_mib": round(after / 1024, 1),
        "rss_per_idle_socket_kib": round((after - before) / len(sockets), 1),
    }


# -- send cost against history length -------------------------------------------------------------


async def send_cost(base: str, seeded: Seeded) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {seeded.tokens[0]}"}
    samples: dict[str, list[float]] = {"short": [], "long": []}
    conversations = {"short": seeded.short_conversation, "long": seeded.long_conversation}
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as http:
        for n in range(SEND_SAMPLES + 5):
            order = ("short", "long") if n % 2 else ("long", "short")
            for label in order:
                started = time.perf_counter()
                response = await http.post(
                    f"/api/v1/conversations/{conversations[label]}/messages", json={"content": SEND_TEXT}
                )
                elapsed = time.perf_counter() - started
                if response.status_code != 201:
                    raise RuntimeError(f"send answered {response.status_code}: {response.text}")
                if n >= 5:
                    samples[label].append(elapsed)
        context = {
            label: (await http.get(f"/api/v1/conversations/{cid}/messages", params={"limit": 1})).json()["total"]
            for label, cid in conversations.items()
        }
    short, long = statistics.median(samples["short"]), statistics.median(samples["long"])
    return {
        "send_history_short_messages": SHORT_HISTORY,
        "send_history_long_messages": LONG_HISTORY,
        "send_history_messages_after": f"{context['short']} / {context['long']}",
        "send_short_history_p50_ms": ms(short),
        "send_short_history_p99_ms": ms(percentile(samples["short"], 0.99)),
        "send_long_history_p50_ms": ms(long),
        "send_long_history_p99_ms": ms(percentile(samples["long"], 0.99)),
        "send_long_over_short": round(long / short, 3),
        "goal_send_cost_within_20_percent": abs(long / short - 1) <= 0.2,
    }


# -- the run ---------------------------------------------------------------------------------------


def run() -> dict[str, Any]:
    name = f"parley_bench_chat_{uuid.uuid4().hex[:8]}"
    database_url = make_url(DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    cache = redis.Redis.from_url(REDIS_URL)
    cache.flushdb()
    env = {"DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, **SERVER_ENV}
    figures: dict[str, Any] = {}
    try:
        with parley_server(**env) as base:
            seeded = asyncio.run(seed(database_url))
            figures["seed_s"] = seeded.seed_s
            print(
                f"   seeded {len(seeded.tokens)} users and {LONG_HISTORY + SHORT_HISTORY} messages in {seeded.seed_s} s"
            )
            figures.update(asyncio.run(streams(base, seeded)))
            figures.update(asyncio.run(send_cost(base, seeded)))
        with parley_server(**env) as base:
            figures.update(asyncio.run(idle_sockets(base, seeded)))
    finally:
        cache.flushdb()
        cache.close()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return figures
