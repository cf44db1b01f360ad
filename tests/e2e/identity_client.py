"""Speaking to a running Parley as a client of the identity API would (shared by the identity e2e tests)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import RunCli, Server

PASSWORD = "violet-harbour-lantern-93"
NEW_PASSWORD = "copper-meadow-quartz-41"
ADMIN_EMAIL = "root@example.com"
ADMIN_PASSWORD = "admin-password-orchid-77"
#: Most identity tests register several users from one address: the per-address HTTP limits are
#: off for them (sign-in throttling is the use case's and stays on).
NO_HTTP_LIMITS = {"RATE_LIMIT_ENABLED": "false", "ADMIN_EMAIL": ADMIN_EMAIL, "ADMIN_PASSWORD": ADMIN_PASSWORD}


def serve(run_cli: RunCli, start_server: Any, **env: str) -> Server:
    settings = {**NO_HTTP_LIMITS, **env}
    migrated = run_cli("db", "upgrade", env=settings)  # the database this server will use
    assert migrated.code == 0, migrated.stderr
    server: Server = start_server(env=settings)
    return server


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register(client: httpx.Client, email: str, *, password: str = PASSWORD, name: str = "Ada") -> dict[str, Any]:
    response = client.post("/api/v1/auth/register", json={"email": email, "password": password, "display_name": name})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def sign_in(client: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refresh(client: httpx.Client, refresh_token: str) -> httpx.Response:
    return client.post("/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token})


def me(client: httpx.Client, token: str) -> httpx.Response:
    return client.get("/api/v1/users/me", headers=bearer(token))


def assert_unauthorized(response: httpx.Response, *, token_sent: bool = True) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    if token_sent:
        assert 'error="invalid_token"' in challenge
    assert response.json()["status"] == 401
