"""HTTP baseline: /health (no I/O) and /ready (one database round trip) through uvicorn.

The floor every later route is compared against: the cost of the request pipeline itself
(request id, access log, security headers, problem-JSON handling) on one uvicorn worker.
"""

from __future__ import annotations

import asyncio

from bench.support import load, parley_server

SECONDS = 4.0
CONCURRENCY = 16


def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    with parley_server() as base:
        for route in ("/health", "/ready"):
            result = asyncio.run(load(base + route, seconds=SECONDS, concurrency=CONCURRENCY))
            for key, value in result.items():
                figures[f"{route.strip('/')}_{key}"] = value
    figures["ready_vs_health_throughput_ratio"] = round(
        figures["ready_requests_per_s"] / figures["health_requests_per_s"], 3
    )
    return figures
