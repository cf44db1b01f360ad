"""Accounts for API tests: people registered and signed in through the real endpoints."""

from __future__ import annotations

from collections.abc import Iterable

import httpx


async def sign_up(client: httpx.AsyncClient, names: Iterable[str], password: str) -> dict[str, str]:
    """Register ``<name>@example.com`` for each name and sign in; each name's access token."""
    tokens = {}
    for name in names:
        email = f"{name}@example.com"
        registered = await client.post(
            "/api/v1/auth/register", json={"email": email, "password": password, "display_name": name}
        )
        assert registered.status_code == 201, registered.text
        signed_in = await client.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": email, "password": password}
        )
        tokens[name] = signed_in.json()["access_token"]
    return tokens
