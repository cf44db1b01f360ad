"""Gateway: /v1/chat/completions streamed through Parley beside the LiteLLM proxy, same fake upstream.

Both relay to the same wire-format fake OpenAI upstream (``tests/fakes/llm_server.py`` in a process of
its own, ``bench/fake_upstream.py``: zero delay, a 9-word answer in 9 chunks plus its usage chunk),
and are driven by the same client (streaming POSTs with ``stream: true`` over one keep-alive
connection per concurrent client, ``bench/stream_client.py``, read to ``data: [DONE]`` and the end of
the body), systems interleaved round by round (the order alternates):

- Parley: one `parley serve` process on PostgreSQL (a throwaway database on ``BENCH_DATABASE_URL``)
  and Redis (``BENCH_GATEWAY_REDIS_URL``, default db 7, emptied before and after), called with a
  ``pk_`` API key, the model by its short alias ``gpt-4.1-mini``. The per-user AI limit is off
  (``RATE_LIMIT_ENABLED=false``: LiteLLM has none); the budget check and the usage write are on:
  every request is charged, and the bench checks the usage rows after the run.
  ``BENCH_GATEWAY_WORKERS`` (default 1) starts more worker processes.
- LiteLLM: ``litellm --config <model_list> --num_workers 1`` (default settings otherwise, no master
  key, no database) from the throwaway virtualenv ``BENCH_LITELLM`` (default ``/tmp/litellm-venv``);
  skipped with a message when it is missing. Install it with::

      python3 -m venv /tmp/litellm-venv
      /tmp/litellm-venv/bin/pip install -c <(echo 'certifi<=2026.10.18') 'litellm[proxy]==1.100.0'

A third system is Parley's chat reply path, which the lean-reply-path goals are about: the same
server and user, a message posted to a conversation of each client's own (``POST .../messages`` with
``Accept: text/event-stream``, read to the ``done`` event), each conversation keeping only its latest
exchange in context (``context_tokens`` 64, no summary), so every reply's prompt is one short message
as the gateway's is; what a reply stores (both messages, the usage, the reply stream in Redis) is
stored. Its figures are named ``parley_chat_*`` and ``chat_ratio_*``.

Figures per system: streamed requests per second with 20 and 50 concurrent clients
(``BENCH_GATEWAY_SECONDS`` each, default 10), the server's CPU time per stream at that load (its
process and children, from ``/proc``: the figure a busy shared machine disturbs least), and at 1
client the time to the first content chunk (p50 of ``BENCH_GATEWAY_SEQUENTIAL`` calls, default 60)
minus that of calling the fake directly with the same client, in the same round. The client, the
upstream and the server share the machine's cores.

    uv run python -m bench gateway
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import msgspec
import redis
from sqlalchemy.engine import make_url

from bench.stream_client import StreamConnection
from bench.support import DATABASE_URL, SERVER_PIDS, admin, free_port, parley_server

ROUNDS = int(os.environ.get("BENCH_GATEWAY_ROUNDS", "3"))
SECONDS = float(os.environ.get("BENCH_GATEWAY_SECONDS", "10"))
SEQUENTIAL = int(os.environ.get("BENCH_GATEWAY_SEQUENTIAL", "60"))
WORKERS = int(os.environ.get("BENCH_GATEWAY_WORKERS", "1"))
REDIS_URL = os.environ.get("BENCH_GATEWAY_REDIS_URL", "redis://127.0.0.1:6379/7")
LITELLM_VENV = Path(os.environ.get("BENCH_LITELLM", "/tmp/litellm-venv"))
MODEL = "gpt-4.1-mini"
PROMPT = "Say nine words."
BODY = {
    "model": MODEL,
    "messages": [{"role": "user", "content": PROMPT}],
    "stream": True,
    "stream_options": {"include_usage": True},
}
PASSWORD = "gateway-bench-password-41"
REPOSITORY = Path(__file__).resolve().parent.parent
_CHUNK = msgspec.json.Decoder()
#: Streams read to their end, by system (Parley's must all be in its usage rows).
COMPLETED: dict[str, int] = {}
#: The chat system's key in COMPLETED.
CHAT = "parley_chat"
#: Concurrent clients of the throughput loads (each chat client has a conversation of its own).
LOADS = (20, 50)


# -- the three servers ----------------------------------------------------------------------------


@contextmanager
def fake_upstream() -> Iterator[str]:
    """The fake OpenAI server in its own process; yields its ``/v1`` base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.fake_upstream"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPOSITORY,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        if process.stdin is not None:
            process.stdin.close()
        process.wait(timeout=10)


@contextmanager
def litellm_proxy(upstream: str) -> Iterator[str | None]:
    """LiteLLM's proxy (one worker, default settings) relaying ``MODEL`` to ``upstream``; ``None``
    when its virtualenv is missing."""
    binary = LITELLM_VENV / "bin" / "litellm"
    if not binary.exists():
        yield None
        return
    with tempfile.TemporaryDirectory() as directory:
        config = Path(directory) / "config.yaml"
        config.write_text(
            "model_list:\n"
            f"  - model_name: {MODEL}\n"
            "    litellm_params:\n"
            f"      model: openai/{MODEL}\n"
            f"      api_base: {upstream}\n"
            "      api_key: sk-bench\n"
        )
        port = free_port()
        environ = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
        process = subprocess.Popen(
            [str(binary), "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"],
            # The price map ships with LiteLLM: no fetch from GitHub at start (there is no internet here).
            env={**environ, "LITELLM_LOG": "ERROR", "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=directory,
        )
        base = f"http://127.0.0.1:{port}"
        SERVER_PIDS[base] = process.pid
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise RuntimeError(f"LiteLLM exited with {process.returncode}")
                try:
                    if httpx.get(f"{base}/health/liveliness", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.3)
            else:
                raise RuntimeError("LiteLLM did not start")
            yield base
        finally:
            process.terminate()
            process.wait(timeout=20)


def parley_key(base: str) -> str:
    """A user's ``pk_`` API key, made through the API."""
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    with httpx.Client(base_url=base, timeout=30) as client:
        registered = client.post(
            "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Bench"}
        )
        registered.raise_for_status()
        token = client.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": email, "password": PASSWORD}
        ).json()["access_token"]
        created = client.post("/api/v1/api-keys", json={"name": "bench"}, headers={"Authorization": f"Bearer {token}"})
        created.raise_for_status()
        key: str = created.json()["key"]
        return key


# -- the client -------------------------------------------------------------------------------------
# One lean keep-alive connection per concurrent client (``bench/stream_client.py``): httpx cost about
# 1 ms of CPU per stream, taken from the servers it measured on this two-core machine.


def openai_stream(line: bytes) -> str | None:
    """What a line of an OpenAI stream says: ``first`` (content), ``end`` (``[DONE]``), or nothing."""
    if not line.startswith(b"data: "):
        return None
    data = line[6:]
    if data == b"[DONE]":
        return "end"
    chunk: Any = _CHUNK.decode(data)
    if "error" in chunk:
        raise RuntimeError(f"error event: {data[:200]!r}")
    choices = chunk.get("choices") or []
    return "first" if choices and (choices[0].get("delta") or {}).get("content") else None


def chat_stream(line: bytes) -> str | None:
    """What a line of a chat reply's SSE stream says: ``first`` (a delta), ``end`` (done), or nothing."""
    if line == b"event: delta":
        return "first"
    if line == b"event: done":
        return "end"
    if line == b"event: error":
        raise RuntimeError("error event")
    return None


@dataclass(frozen=True)
class System:
    """What a system is called with: one URL per concurrent client, its headers, the request body, and
    how its stream's lines read."""

    urls: list[str]
    headers: dict[str, str]
    body: bytes = msgspec.json.encode(BODY)
    reads: Callable[[bytes], str | None] = openai_stream
    #: Counted in COMPLETED under this name (Parley's must all be in its usage rows).
    name: str = ""
    pid: int | None = None


async def one_stream(connection: StreamConnection, system: System, url: str) -> tuple[float, float]:
    """(seconds to the first content, seconds to the end) of one streamed request, read to its end."""
    path = urlsplit(url).path
    started = time.perf_counter()
    first: float | None = None
    end: float | None = None
    async for line in connection.post_lines(path, system.body, system.headers):
        if end is not None:
            continue  # read the rest: the connection stays alive for the next request
        said = system.reads(line) if first is None or line.startswith((b"data: [DONE]", b"event: ")) else None
        if said == "first" and first is None:
            first = time.perf_counter()
        elif said == "end":
            end = time.perf_counter()
    if first is None or end is None:
        raise RuntimeError("no content" if first is None else "no end of stream")
    COMPLETED[system.name] = COMPLETED.get(system.name, 0) + 1
    return first - started, end - started


async def first_chunk_p50(system: System, calls: int) -> float:
    url = system.urls[0]
    async with StreamConnection(url) as connection:
        for _ in range(5):
            await one_stream(connection, system, url)
        firsts = [(await one_stream(connection, system, url))[0] for _ in range(calls)]
    return statistics.median(firsts) * 1000


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its descendants so far (Linux ``/proc``)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent and p not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(times.get(p, 0.0) for p in tree)


async def throughput(system: System, clients: int, seconds: float) -> dict[str, float]:
    urls = (system.urls * clients)[:clients] if len(system.urls) == 1 else system.urls[:clients]
    done = 0
    errors = 0
    firsts: list[float] = []
    connections = [StreamConnection(url) for url in urls]
    try:
        # Warm the connections.
        await asyncio.gather(*(one_stream(c, system, url) for c, url in zip(connections, urls, strict=True)))
        stop_at = time.perf_counter() + seconds

        async def client(connection: StreamConnection, url: str) -> None:
            nonlocal done, errors
            while time.perf_counter() < stop_at:
                try:
                    first, _ = await one_stream(connection, system, url)
                except (RuntimeError, OSError, asyncio.IncompleteReadError):
                    errors += 1
                    await connection.close()
                    continue
                done += 1
                firsts.append(first)

        pid = system.pid
        cpu_before = cpu_seconds(pid) if pid is not None else 0.0
        started = time.perf_counter()
        await asyncio.gather(*(client(c, url) for c, url in zip(connections, urls, strict=True)))
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(pid) - cpu_before if pid is not None else 0.0
    finally:
        await asyncio.gather(*(c.close() for c in connections))
    return {
        "server_cpu_ms_per_stream": round(cpu * 1000 / done, 2) if done else 0.0,
        "streams_per_s": round(done / elapsed, 1),
        "first_chunk_p50_ms": round(statistics.median(firsts) * 1000, 1) if firsts else 0.0,
        "errors": errors,
        "requests": done,
    }


# -- the run ------------------------------------------------------------------------------------------


def run() -> dict[str, Any]:
    database = f"bench_gateway_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(f'CREATE DATABASE "{database}"'))
    database_url = make_url(DATABASE_URL).set(database=database).render_as_string(hide_password=False)
    redis.Redis.from_url(REDIS_URL).flushdb()
    try:
        with fake_upstream() as upstream, litellm_proxy(upstream) as litellm:
            env = {
                "DATABASE_URL": database_url,
                "REDIS_URL": REDIS_URL,
                "OPENAI_API_KEY": "sk-bench",
                "OPENAI_BASE_URL": upstream,
                "RATE_LIMIT_ENABLED": "false",
                "DB_POOL_TIMEOUT": "30",
                # A pool as large as the load: no overflow connections opened and closed per burst
                # (the defaults, 10 + 10, leave room for more processes on one PostgreSQL).
                "DB_POOL_SIZE": "20",
                "DB_MAX_OVERFLOW": "0",
            }
            with _parley(env) as parley:
                key = parley_key(parley)
                return _measure(upstream, parley, key, litellm, database_url)
    finally:
        redis.Redis.from_url(REDIS_URL).flushdb()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


@contextmanager
def _parley(env: dict[str, str]) -> Iterator[str]:
    if WORKERS == 1:
        with parley_server(**env) as base:
            yield base
        return
    from bench.support import _served

    command: Callable[[int], list[str]] = lambda port: [  # noqa: E731
        str(Path(sys.executable).with_name("parley")), "serve", "--port", str(port), "--workers", str(WORKERS)
    ]  # fmt: skip
    with _served(command, env) as base:
        yield base


def chat_conversations(base: str, key: str, count: int) -> list[str]:
    """``count`` conversations on the catalog's gpt-4.1-mini, each holding only its latest exchange in a
    reply's context (``context_tokens`` 64, no running summary): every reply's prompt is one short user
    message, as the gateway's is. Their ``/messages`` URLs."""
    headers = {"Authorization": f"Bearer {key}"}
    urls: list[str] = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(count):
            created = client.post("/api/v1/conversations", json={"model": f"openai/{MODEL}"}, headers=headers)
            created.raise_for_status()
            conversation = f"/api/v1/conversations/{created.json()['id']}"
            client.patch(
                conversation, json={"context_tokens": 64, "summarize": False}, headers=headers
            ).raise_for_status()
            urls.append(f"{base}{conversation}/messages")
    return urls


def _measure(upstream: str, parley: str, key: str, litellm: str | None, database_url: str) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {key}"}
    pid = SERVER_PIDS.get(parley)
    systems: dict[str, System] = {
        "parley": System([f"{parley}/v1/chat/completions"], auth, name="parley", pid=pid),
        # The chat reply path (POST .../messages streamed over SSE), which the lean-reply-path goals are about.
        CHAT: System(
            chat_conversations(parley, key, max(LOADS)),
            {**auth, "Accept": "text/event-stream"},
            msgspec.json.encode({"content": PROMPT}),
            chat_stream,
            name=CHAT,
            pid=pid,
        ),
    }
    if litellm is None:
        print(f"   LiteLLM skipped: no {LITELLM_VENV}/bin/litellm (see this module's docstring to install it)")
    else:
        litellm_url = f"{litellm}/v1/chat/completions"
        systems["litellm"] = System(
            [litellm_url], {"Authorization": "Bearer sk-anything"}, name="litellm", pid=SERVER_PIDS.get(litellm)
        )
    direct = System([f"{upstream}/chat/completions"], {"Authorization": "Bearer sk-bench"}, name="direct")
    samples: dict[str, list[float]] = {}

    def note(name: str, value: float) -> None:
        samples.setdefault(name, []).append(value)

    for round_ in range(ROUNDS):
        order = list(systems) if round_ % 2 == 0 else list(reversed(systems))
        base_first = asyncio.run(first_chunk_p50(direct, SEQUENTIAL))
        note("direct_first_chunk_p50_ms", base_first)
        for name in order:
            first = asyncio.run(first_chunk_p50(systems[name], SEQUENTIAL))
            note(f"{name}_added_first_chunk_ms_1_client", first - base_first)
            for clients in LOADS:
                figures = asyncio.run(throughput(systems[name], clients, SECONDS))
                note(f"{name}_streams_per_s_{clients}_clients", figures["streams_per_s"])
                note(f"{name}_server_cpu_ms_per_stream_{clients}_clients", figures["server_cpu_ms_per_stream"])
                note(f"{name}_first_chunk_p50_ms_{clients}_clients", figures["first_chunk_p50_ms"])
                note(f"{name}_errors", figures["errors"])
                print(f"   round {round_ + 1} {name:<11} {clients} clients: {figures}")
    result: dict[str, Any] = {"rounds": ROUNDS, "seconds_per_load": SECONDS, "parley_workers": WORKERS}
    for name, values in samples.items():
        result[name] = round(statistics.median(values), 2)
        result[f"{name}_all"] = [round(v, 2) for v in values]
    if "litellm" in systems:
        for ours in ("parley", CHAT):
            prefix = "ratio" if ours == "parley" else "chat_ratio"
            for clients in LOADS:
                mine, theirs = (
                    result[f"{ours}_streams_per_s_{clients}_clients"],
                    result[f"litellm_streams_per_s_{clients}_clients"],
                )
                result[f"{prefix}_streams_per_s_{clients}_clients"] = round(mine / theirs, 2) if theirs else None
                cpu_ours = result[f"{ours}_server_cpu_ms_per_stream_{clients}_clients"]
                cpu_theirs = result[f"litellm_server_cpu_ms_per_stream_{clients}_clients"]
                result[f"{prefix}_server_cpu_per_stream_{clients}_clients"] = (
                    round(cpu_ours / cpu_theirs, 2) if cpu_theirs else None
                )
            theirs_added = result["litellm_added_first_chunk_ms_1_client"]
            result[f"{prefix}_added_first_chunk"] = (
                round(result[f"{ours}_added_first_chunk_ms_1_client"] / theirs_added, 2) if theirs_added > 0 else None
            )
    result["parley_streams_completed"] = COMPLETED.get("parley", 0)
    result["parley_usage_rows"] = asyncio.run(_usage_rows(database_url))
    result["parley_chat_replies_completed"] = COMPLETED.get(CHAT, 0)
    result["parley_chat_usage_rows"] = asyncio.run(_usage_rows(database_url, kind="reply"))
    return result


async def _usage_rows(database_url: str, kind: str = "completion") -> int:
    """Usage rows Parley wrote (one per completed request, warm-ups included)."""
    url = make_url(database_url)
    connection = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password, database=url.database
    )
    try:
        return int(await connection.fetchval("SELECT count(*) FROM usage_record WHERE kind = $1", kind))
    finally:
        await connection.close()
