"""`parley status` against a running `parley serve` sharing PostgreSQL and Redis: the CLI lists the
serving instance from its heartbeat (not itself), and the same figures as the admin API."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunCli
from tests.e2e.identity_client import ADMIN_EMAIL, ADMIN_PASSWORD, NO_HTTP_LIMITS, bearer, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


def test_status_lists_the_running_server_and_agrees_with_the_admin_api(
    run_cli: RunCli, start_server: Any, postgres_url: str, redis_url: str
) -> None:
    shared = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "INSTANCE_HEARTBEAT_SECONDS": "1"}
    migrated = run_cli("db", "upgrade", env=shared)
    assert migrated.code == 0, migrated.stderr
    server = start_server(env={**NO_HTTP_LIMITS, **shared})
    with httpx.Client(base_url=server.base_url, timeout=20) as client:
        admin = bearer(sign_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)["access_token"])
        from_api = client.get("/api/v1/admin/system", headers=admin).json()
    (serving,) = from_api["instances"]
    assert (serving["role"], serving["current"]) == ("api", True)

    printed = run_cli("status", "--json", env=shared)
    assert printed.code == 0, printed.stderr
    status = json.loads(printed.stdout)
    assert status["instances_shared"] is True
    # The CLI is not an instance: it lists the server, by the id the server gave itself.
    assert [(i["instance_id"], i["role"], i["current"]) for i in status["instances"]] == [
        (serving["instance_id"], "api", False)
    ]
    assert status["instances"][0]["recent_requests"] >= 1  # the server's own count, from its heartbeat
    assert (status["database"]["status"], status["redis"]["status"]) == ("up", "up")
    assert status["version"] == from_api["version"]

    table = run_cli("status", env=shared)
    assert table.code == 0, table.stderr
    assert serving["instance_id"] in table.stdout
    assert "instances: 1 (shared through Redis)" in table.stdout
    # Nothing but the status: Alembic's plugin announcements (it is imported for the schema probe)
    # are not written.
    assert "alembic" not in printed.stderr + table.stderr
