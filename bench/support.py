"""Helpers shared by the benchmarks: a real uvicorn server and a bounded HTTP load loop."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

PARLEY = str(Path(sys.executable).with_name("parley"))
#: The PostgreSQL server the benchmarks make their throwaway databases on.
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
#: The process id of each server started here, by its base URL (to read its memory, say).
SERVER_PIDS: dict[str, int] = {}


async def admin(statement: str) -> None:
    """Run ``statement`` (``CREATE DATABASE``, ``DROP DATABASE``) on ``DATABASE_URL``'s database."""
    url = make_url(DATABASE_URL)
    connection = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password, database=url.database
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def parley_server(**env: str) -> Iterator[str]:
    """`parley serve` on a spare loopback port with a throwaway var dir; yields its base URL."""
    with _served(lambda port: [PARLEY, "serve", "--port", str(port)], env) as base:
        yield base


@contextmanager
def app_server(factory: str, **env: str) -> Iterator[str]:
    """uvicorn serving the app factory ``factory`` (``module:function``, importable from the repository
    root, e.g. one that calls ``create_app(extra_route_handlers=...)``), set up like `parley serve`."""
    repository = str(Path(__file__).resolve().parent.parent)

    def command(port: int) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", "--factory", factory, "--app-dir", repository,
            "--port", str(port), "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip

    with _served(command, env) as base:
        yield base


@contextmanager
def _served(command: Callable[[int], list[str]], env: dict[str, str]) -> Iterator[str]:
    """Migrate a throwaway var dir, start ``command(port)`` and wait for /health; yields the base URL."""
    with tempfile.TemporaryDirectory() as var:
        environ = {
            **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}},
            "PARLEY_VAR_DIR": var,
            "APP_ENV": "production",
            "SECRET_KEY": "benchmark-secret-key-0123456789-abcdef",
            "LOG_LEVEL": "WARNING",
            **env,
        }
        subprocess.run([PARLEY, "db", "upgrade"], env=environ, check=True, capture_output=True, cwd=var)
        port = free_port()
        process = subprocess.Popen(
            command(port), env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=var
        )
        base = f"http://127.0.0.1:{port}"
        SERVER_PIDS[base] = process.pid
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise RuntimeError(f"the server exited with {process.returncode}")
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise RuntimeError("the server did not start")
            yield base
        finally:
            SERVER_PIDS.pop(base, None)
            process.terminate()
            process.wait(timeout=10)


async def load(
    url: str,
    *,
    seconds: float,
    concurrency: int,
    max_requests: int = 200_000,
    headers: dict[str, str] | None = None,
) -> dict[str, float]:
    """GET ``url`` (with ``headers``) from ``concurrency`` clients for ``seconds`` (bounded); throughput and latency."""
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < stop_at and len(latencies) < max_requests:
            started = time.perf_counter()
            response = await http.get(url)
            latencies.append(time.perf_counter() - started)
            if response.status_code >= 400:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10, headers=headers) as http:
        await http.get(url)  # warm up
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


class LeanClient:
    """HTTP/1.1 on one keep-alive connection with the standard library's ``http.client``.

    For latency figures of the API itself: httpx spends ~0.4 ms of Python of its own per request on
    the development machine, as much as some of the requests it would be timing. The benchmarks that
    use this client also report the httpx figure beside it.
    """

    def __init__(self, base_url: str, headers: dict[str, str] | None = None, timeout: float = 60) -> None:
        url = httpx.URL(base_url)
        self._connection = http.client.HTTPConnection(url.host, url.port, timeout=timeout)
        self.headers = dict(headers or {})

    def request(self, method: str, path: str, body: object = None) -> Any:
        """The decoded JSON answer; a status of 400 or more raises ``RuntimeError``."""
        headers = dict(self.headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self._connection.request(method, path, body=payload, headers=headers)
        response = self._connection.getresponse()
        data = response.read()
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
        return json.loads(data)

    def close(self) -> None:
        self._connection.close()
