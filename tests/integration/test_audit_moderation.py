"""The audit log and the moderation queue through the whole app (in this process) on SQLite and
PostgreSQL: events recorded by the use cases with the caller's address, read by admins only; the
log append-only in the database itself; reports, the queue, and hidden articles gone from reads and
search for everyone but their author and staff."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from src.application.admin.audit import record_audit
from src.domain.admin.audit import AuditAction, AuditActor, AuditTarget
from src.infrastructure.container import Container, build_container
from src.infrastructure.persistence.admin_models import AuditEventModel
from src.infrastructure.persistence.migrator import Migrator
from src.interfaces.http.app import create_app
from tests.accounts import sign_up
from tests.conftest import SettingsFactory

PASSWORD = "violet-harbour-lantern-93"


@dataclass
class Api:
    client: httpx.AsyncClient
    container: Container
    tokens: dict[str, str]

    async def call(self, method: str, path: str, who: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def user_id(self, who: str) -> str:
        body: dict[str, Any] = (await self.call("GET", "/api/v1/users/me", who)).json()
        return str(body["id"])

    async def audit(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.call("GET", "/api/v1/admin/audit", "root", params=params)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


@pytest.fixture
async def api(make_settings: SettingsFactory, database_url: str) -> AsyncIterator[Api]:
    settings = make_settings(
        DATABASE_URL=database_url, RATE_LIMIT_ENABLED="false", ADMIN_EMAIL="root@example.com", ADMIN_PASSWORD=PASSWORD
    )
    await asyncio.to_thread(Migrator(settings).upgrade)
    container = build_container(settings, role="api")
    await container.startup()
    transport = httpx.ASGITransport(app=create_app(settings, container=container), client=("203.0.113.9", 4711))  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://parley.test", timeout=10) as client:
            tokens = await sign_up(client, ("ada", "bob"), PASSWORD)
            signed_in = await client.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": "root@example.com", "password": PASSWORD},
            )
            tokens["root"] = signed_in.json()["access_token"]
            yield Api(client, container, tokens)
    finally:
        await container.shutdown()


async def test_admin_changes_are_in_the_log_with_who_and_from_where(api: Api) -> None:
    bob = await api.user_id("bob")
    root = await api.user_id("root")
    changed = await api.call("PATCH", f"/api/v1/admin/users/{bob}", "root", json={"tier": "pro", "is_active": False})
    assert changed.status_code == 200, changed.text
    key = await api.call("POST", "/api/v1/api-keys", "ada", json={"name": "laptop"})
    assert key.status_code == 201, key.text

    latest = await api.audit()
    assert latest[0]["action"] == "api_key.created"
    by_root = await api.audit(actor=root)
    assert {e["action"] for e in by_root} == {"user.tier_changed", "user.deactivated"}
    tier = next(e for e in by_root if e["action"] == "user.tier_changed")
    assert tier["actor_ip"] == "203.0.113.9"
    assert tier["target_type"] == "user"
    assert tier["target_id"] == bob
    assert tier["data"] == {"from": "free", "to": "pro", "via": "access_token"}
    assert [e["target_id"] for e in await api.audit(action="api_key.created")] == [key.json()["id"]]
    assert len(await api.audit(target=bob)) == 2

    page = (await api.call("GET", "/api/v1/admin/audit", "root", params={"limit": 1})).json()
    older = await api.audit(limit=1, before=page["next_before"])
    assert older[0]["id"] != page["items"][0]["id"]

    refused = await api.call("GET", "/api/v1/admin/audit", "ada")
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    unknown = await api.call("GET", "/api/v1/admin/audit", "root", params={"action": "user.exploded"})
    assert unknown.status_code == 422
    # No route writes the log.
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert (await api.call(method, "/api/v1/admin/audit", "root")).status_code == 405


async def test_the_log_is_append_only_in_the_database_and_pruned_by_its_job(api: Api) -> None:
    uow = api.container.uow
    now = api.container.clock.now()

    async def failing_change() -> None:
        async with uow() as tx:
            await record_audit(tx, AuditActor(None), AuditAction.USER_TIER_CHANGED, AuditTarget.USER, "x", now=now)
            raise RuntimeError("the change failed")

    # An event is part of its transaction: rolled back with it.
    with pytest.raises(RuntimeError):
        await failing_change()
    async with uow() as tx:
        old = await record_audit(
            tx, AuditActor(None), AuditAction.USER_TIER_CHANGED, AuditTarget.USER, "old", now=now - timedelta(days=400)
        )
        await record_audit(tx, AuditActor(None), AuditAction.USER_TIER_CHANGED, AuditTarget.USER, "new", now=now)
    assert [e["target_id"] for e in await api.audit()] == ["new", "old"]

    with pytest.raises(DBAPIError, match="append-only"):
        async with uow() as tx:
            await tx.session.execute(sa.update(AuditEventModel).values(action="user.role_changed"))
    if api.container.database.get_engine().dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"):
            async with uow() as tx:
                await tx.session.execute(sa.delete(AuditEventModel).where(AuditEventModel.id == old.id))
        with pytest.raises(DBAPIError, match="append-only"):
            async with uow() as tx:
                await tx.session.execute(sa.text("TRUNCATE audit_events"))

    result = await api.container.jobs.run("prune_audit_events", {}, None)
    assert result == {"audit_events": 1}
    assert [e["target_id"] for e in await api.audit()] == ["new"]


async def test_reports_fill_the_queue_and_hiding_takes_an_article_from_everyone_but_author_and_staff(api: Api) -> None:
    created = await api.call(
        "POST",
        "/api/v1/articles",
        "ada",
        json={"title": "Tides", "body": "The moon pulls the sea.", "status": "published", "visibility": "public"},
    )
    article = created.json()["id"]
    private = (await api.call("POST", "/api/v1/articles", "ada", json={"title": "Mine"})).json()["id"]

    report = {"kind": "article", "id": article, "reason": "spam"}
    assert (await api.call("POST", "/api/v1/reports", "bob", json=report)).status_code == 201
    again = await api.call("POST", "/api/v1/reports", "bob", json=report)
    assert again.status_code == 409
    assert again.json()["code"] == "already_reported"
    for target in (private, str(uuid.uuid4())):
        hidden_from_bob = await api.call("POST", "/api/v1/reports", "bob", json={**report, "id": target})
        assert hidden_from_bob.status_code == 404
        assert hidden_from_bob.json()["code"] == "content_not_found"

    assert (await api.call("GET", "/api/v1/admin/moderation", "bob")).status_code == 403
    queue = (await api.call("GET", "/api/v1/admin/moderation", "root", params={"kind": "article"})).json()
    (item,) = queue["items"]
    assert item["target_id"] == article
    assert item["reasons"] == ["user_report"]
    assert item["report_count"] == 1
    assert "moon pulls the sea" in item["excerpt"]

    resolved = await api.call(
        "POST", f"/api/v1/admin/moderation/{item['id']}/resolve", "root", json={"action": "hide", "note": "spam"}
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["resolution"] == "hide"

    assert (await api.call("GET", f"/api/v1/articles/{article}", "bob")).status_code == 404
    assert (await api.call("GET", "/api/v1/articles", "bob")).json()["items"] == []
    found = (await api.call("GET", "/api/v1/search", "bob", params={"q": "moon", "scope": "articles"})).json()
    assert found["items"] == []
    assert (await api.call("GET", f"/api/v1/articles/{article}", "ada")).status_code == 200
    ada_found = (await api.call("GET", "/api/v1/search", "ada", params={"q": "moon", "scope": "articles"})).json()
    assert len(ada_found["items"]) == 1
    assert (await api.call("GET", f"/api/v1/articles/{article}", "root")).status_code == 200

    twice = await api.call("POST", f"/api/v1/admin/moderation/{item['id']}/resolve", "root", json={"action": "delete"})
    assert twice.status_code == 409
    assert twice.json()["code"] == "moderation_item_resolved"
    (event,) = await api.audit(action="moderation.hidden")
    assert event["target_id"] == item["id"]
    assert event["data"]["content_id"] == article
    resolved_list = (await api.call("GET", "/api/v1/admin/moderation", "root", params={"status": "resolved"})).json()
    assert [i["id"] for i in resolved_list["items"]] == [item["id"]]


async def test_a_reused_refresh_token_is_an_alarm_in_the_log_with_the_address(api: Api) -> None:
    grant = {"grant_type": "password", "username": "bob@example.com", "password": PASSWORD}
    stolen = (await api.client.post("/api/v1/auth/token", data=grant)).json()["refresh_token"]
    renewed = await api.client.post("/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": stolen})
    assert renewed.status_code == 200
    reused = await api.client.post("/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": stolen})
    assert reused.status_code == 400
    (alarm,) = await api.audit(action="auth.refresh_token_reused")
    assert alarm["actor_id"] is None
    assert alarm["actor_ip"] == "203.0.113.9"
    assert alarm["target_type"] == "session"
    assert alarm["data"]["user_id"] == await api.user_id("bob")
