"""The audit log through a real `parley serve`: the address uvicorn sees reaches the use case, behind a
trusted proxy the client's, and an admin reads the event back."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunCli
from tests.e2e.identity_client import ADMIN_EMAIL, ADMIN_PASSWORD, bearer, register, serve, sign_in

pytestmark = pytest.mark.e2e


def test_an_admin_change_is_audited_with_the_address_the_server_saw(run_cli: RunCli, start_server: Any) -> None:
    server = serve(run_cli, start_server)
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        ada = register(client, "ada@example.com")
        admin = bearer(sign_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)["access_token"])
        direct = client.patch(f"/api/v1/admin/users/{ada['id']}", json={"tier": "pro"}, headers=admin)
        assert direct.status_code == 200, direct.text
        # 127.0.0.1 is a trusted proxy by default (FORWARDED_ALLOW_IPS): the client behind it is recorded.
        proxied = client.patch(
            f"/api/v1/admin/users/{ada['id']}",
            json={"tier": "free"},
            headers={**admin, "X-Forwarded-For": "198.51.100.7"},
        )
        assert proxied.status_code == 200, proxied.text

        page = client.get("/api/v1/admin/audit", params={"target": ada["id"]}, headers=admin)
        assert page.status_code == 200, page.text
        latest, earlier = page.json()["items"]
        assert (latest["data"]["to"], latest["actor_ip"]) == ("free", "198.51.100.7")
        assert (earlier["data"]["to"], earlier["actor_ip"]) == ("pro", "127.0.0.1")
        assert latest["actor_id"] == client.get("/api/v1/users/me", headers=admin).json()["id"]

        members = client.get("/api/v1/admin/audit", headers=bearer(sign_in(client, "ada@example.com")["access_token"]))
        assert members.status_code == 403
