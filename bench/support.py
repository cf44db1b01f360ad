"""Helpers shared by the benchmarks: a real uvicorn server and a bounded HTTP load loop."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

PARLEY = str(Path(sys.executable).with_name("parley"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def parley_server(**env: str) -> Iterator[str]:
    """`parley serve` on a spare loopback port with a throwaway var dir; yields its base URL."""
    with tempfile.TemporaryDirectory() as var:
        environ = {
            **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}},
            "PARLEY_VAR_DIR": var,
            "APP_ENV": "production",
            "SECRET_KEY": "benchmark-secret-key-0123456789-abcdef",
            "LOG_LEVEL": "WARNING",
            **env,
        }
        subprocess.run([PARLEY, "db", "upgrade"], env=environ, check=True, capture_output=True)
        port = free_port()
        process = subprocess.Popen(
            [PARLEY, "serve", "--port", str(port)], env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise RuntimeError("the server did not start")
            yield base
        finally:
            process.terminate()
            process.wait(timeout=10)


async def load(url: str, *, seconds: float, concurrency: int, max_requests: int = 200_000) -> dict[str, float]:
    """GET ``url`` from ``concurrency`` clients for ``seconds`` (bounded); throughput and latency."""
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
    async with httpx.AsyncClient(limits=limits, timeout=10) as http:
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
