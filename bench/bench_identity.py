"""Identity: requests/s of GET /api/v1/users/me with a JWT access token and with an API key, side by side.

Both go through the whole pipeline (authentication middleware, guard, one read-only unit of work for
the profile). A JWT is verified by signature alone; an API key is looked up by its digest, one database
read more. Each then reads the user's access state through the cache (in-process memory here: the
embedded defaults). The per-user rate limit is off so that the limiter does not cap the figures.
"""

from __future__ import annotations

import asyncio

import httpx

from bench.support import load, parley_server

SECONDS = 4.0
CONCURRENCY = 16
EMAIL = "bench@example.com"
PASSWORD = "benchmark-password-heron-58"


def credentials(base: str) -> dict[str, str]:
    """An access token and an API key for the admin the server created at start."""
    with httpx.Client(base_url=base, timeout=10) as client:
        signed_in = client.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": EMAIL, "password": PASSWORD}
        )
        signed_in.raise_for_status()
        access_token = signed_in.json()["access_token"]
        key = client.post(
            "/api/v1/api-keys", json={"name": "bench"}, headers={"Authorization": f"Bearer {access_token}"}
        )
        key.raise_for_status()
        return {"jwt": access_token, "api_key": key.json()["key"]}


def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    env = {"RATE_LIMIT_ENABLED": "false", "ADMIN_EMAIL": EMAIL, "ADMIN_PASSWORD": PASSWORD}
    with parley_server(**env) as base:
        for name, token in credentials(base).items():
            result = asyncio.run(
                load(
                    base + "/api/v1/users/me",
                    seconds=SECONDS,
                    concurrency=CONCURRENCY,
                    headers={"Authorization": f"Bearer {token}"},
                )
            )
            for key, value in result.items():
                figures[f"me_{name}_{key}"] = value
    figures["api_key_vs_jwt_throughput_ratio"] = round(
        figures["me_api_key_requests_per_s"] / figures["me_jwt_requests_per_s"], 3
    )
    return figures
