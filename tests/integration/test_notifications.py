"""Notifications through the whole app (in this process) on SQLite and PostgreSQL: events dispatched
by the in-process runner after commit, the inbox API, preferences, mail in the console mailer's
record, one-click unsubscribe, announcements, budget alerts, pruning; and live push over Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select, update

from src.application.chat.ports import UserEvent
from src.application.notifications.list_sent_emails import ListSentEmailsQuery
from src.application.notifications.notify import NotificationDraft
from src.application.notifications.prune_notifications import PruneNotificationsCommand
from src.application.shared.events import DISPATCH_EVENT_JOB
from src.domain.llm.model import Usage
from src.domain.notifications.model import Category
from src.domain.usage.events import UsageCharged
from src.domain.usage.model import UsageKind, UsageRecord
from src.infrastructure.container import Container, build_container
from src.infrastructure.observability.metrics import METRICS
from src.infrastructure.persistence.migrator import Migrator
from src.infrastructure.persistence.models import OutboxMessageModel
from src.infrastructure.persistence.notification_models import NotificationModel, ProcessedEventModel
from src.interfaces.http.app import create_app
from tests.accounts import sign_up
from tests.conftest import SettingsFactory
from tests.integration.jobs_support import wait_until
from tests.logs import capture_logs

PASSWORD = "violet-harbour-lantern-93"
NEW_PASSWORD = "amber-quarry-window-41"


@dataclass
class Api:
    client: httpx.AsyncClient
    container: Container
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def call(self, method: str, path: str, who: str = "ada", **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, path, headers=self.auth(who), **kwargs)

    async def inbox(self, who: str = "ada", **params: Any) -> dict[str, Any]:
        response = await self.call("GET", "/api/v1/notifications", who, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def types(self, who: str = "ada") -> list[str]:
        return [i["type"] for i in (await self.inbox(who, limit=100))["items"]]


@pytest.fixture
async def api(make_settings: SettingsFactory, database_url: str) -> AsyncIterator[Api]:
    settings = make_settings(
        DATABASE_URL=database_url,
        RATE_LIMIT_ENABLED="false",
        OUTBOX_RELAY_INTERVAL="0.05",
        ADMIN_EMAIL="root@example.com",
        ADMIN_PASSWORD=PASSWORD,
        PUBLIC_URL="https://parley.example.com",
    )
    await asyncio.to_thread(Migrator(settings).upgrade)
    container = build_container(settings, role="api")
    await container.startup()
    transport = httpx.ASGITransport(app=create_app(settings, container=container))  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://parley.test", timeout=10) as client:
            tokens = await sign_up(client, ("ada", "bob"), PASSWORD)
            signed_in = await client.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": "root@example.com", "password": PASSWORD},
            )
            tokens["root"] = signed_in.json()["access_token"]
            running = Api(client, container, tokens)
            # The welcome notifications arrive through the outbox, the relay and the dispatch job.
            await wait_until(lambda: _has(running, "ada", "welcome"), timeout=15)
            await wait_until(lambda: _has(running, "bob", "welcome"), timeout=15)
            yield running
    finally:
        await container.shutdown()


async def _has(api: Api, who: str, kind: str, count: int = 1) -> bool:
    return (await api.types(who)).count(kind) >= count


async def test_the_inbox_lists_marks_read_and_deletes_only_ones_own(api: Api) -> None:
    page = await api.inbox()
    (welcome,) = page["items"]
    assert welcome["category"] == "system"
    assert welcome["title"] == "Welcome to Parley, ada"
    assert page["unread_count"] == 1
    assert page["next_cursor"] is None
    # Bob cannot see, read or delete Ada's notification: it does not exist for him.
    for method, path in (
        ("POST", f"/api/v1/notifications/{welcome['id']}/read"),
        ("DELETE", f"/api/v1/notifications/{welcome['id']}"),
    ):
        refused = await api.call(method, path, "bob")
        assert refused.status_code == 404
        assert refused.json()["code"] == "notification_not_found"
    assert (await api.call("POST", f"/api/v1/notifications/{welcome['id']}/read")).status_code == 204
    after_read = await api.inbox()
    assert after_read["unread_count"] == 0
    assert after_read["items"][0]["read_at"] is not None
    assert (await api.inbox(unread="true"))["items"] == []
    assert (await api.call("DELETE", f"/api/v1/notifications/{welcome['id']}")).status_code == 204
    assert (await api.inbox())["items"] == []
    assert (await api.inbox("bob"))["unread_count"] == 1
    read_all = await api.call("POST", "/api/v1/notifications/read-all", "bob")
    assert read_all.json() == {"marked_read": 1}
    assert (await api.call("GET", "/api/v1/notifications", params={"limit": 0})).status_code == 422


async def test_pages_go_back_in_time_with_the_cursor(api: Api) -> None:
    user_id = uuid.UUID((await api.call("GET", "/api/v1/users/me")).json()["id"])
    for n in range(5):
        await api.container.notifications.notify(
            NotificationDraft(user_id, Category.CONTENT, "test", f"n{n}", "body", f"test-{n}")
        )
        await asyncio.sleep(0.002)  # ids are time-ordered to the millisecond
    again = await api.container.notifications.notify(
        NotificationDraft(user_id, Category.CONTENT, "test", "n0 again", "body", "test-0")
    )
    assert again.stored is None  # one per user and dedupe key, on either database
    first = await api.inbox(limit=3)
    assert [i["title"] for i in first["items"]] == ["n4", "n3", "n2"]
    second = await api.inbox(limit=3, before=first["next_cursor"])
    assert [i["title"] for i in second["items"]] == ["n1", "n0", "Welcome to Parley, ada"]
    assert second["next_cursor"] is None


async def test_preferences_are_validated_and_security_email_stays_on(api: Api) -> None:
    got = (await api.call("GET", "/api/v1/notifications/preferences")).json()
    assert set(got["categories"]) == {"security", "budget", "content", "announcements", "system"}
    assert got["categories"]["security"] == {"in_app": True, "email": True}
    changed = await api.call(
        "PUT", "/api/v1/notifications/preferences", json={"categories": {"content": {"email": True}}}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["categories"]["content"] == {"in_app": True, "email": True}
    for body in (
        {"categories": {"marketing": {"email": True}}},
        {"categories": {"security": {"email": False}}},
        {"categories": {"content": {"pigeon": True}}},
    ):
        refused = await api.call("PUT", "/api/v1/notifications/preferences", json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "invalid_notification_preferences"
    again = (await api.call("GET", "/api/v1/notifications/preferences")).json()
    assert again["categories"]["content"] == {"in_app": True, "email": True}
    assert again["categories"]["security"]["email"] is True


async def test_a_password_change_notifies_and_mails_at_once(api: Api) -> None:
    def counted(outcome: str) -> float:
        value = METRICS.registry.get_sample_value(
            "parley_domain_events_total", {"type": "PasswordChanged", "outcome": outcome}
        )
        return value or 0.0

    handled_before = counted("handled")
    with capture_logs() as logs:
        await _change_password(api)
        await wait_until(lambda: _has(api, "ada", "password_changed"), timeout=15)
        await wait_until(lambda: bool(logs.events("domain_event")), timeout=5)
    (line,) = [e for e in logs.events("domain_event") if e["event_type"] == "PasswordChanged"]
    assert line["outcome"] == "handled"
    assert line["handled"] == ["notifications.password_changed"]
    assert counted("handled") == handled_before + 1
    await _check_password_mail(api)


async def _change_password(api: Api) -> None:
    changed = await api.call(
        "POST", "/api/v1/users/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 204, changed.text
    signed_in = await api.client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": "ada@example.com", "password": NEW_PASSWORD}
    )
    api.tokens["ada"] = signed_in.json()["access_token"]


async def _check_password_mail(api: Api) -> None:
    mails = await api.container.notifications.list_sent_emails(ListSentEmailsQuery())
    (mail,) = [m for m in mails if m.to == "ada@example.com"]
    assert mail.category == "security"
    assert mail.transport == "console"
    assert "Your password was changed" in mail.subject
    assert "List-Unsubscribe" not in mail.headers
    # Every handler ran once and is recorded: a redelivered event changes nothing.
    async with api.container.uow(read_only=True) as tx:
        handled = await tx.session.scalar(select(func.count()).select_from(ProcessedEventModel))
        message = (
            await tx.session.scalars(
                select(OutboxMessageModel)
                .where(OutboxMessageModel.job_name == DISPATCH_EVENT_JOB)
                .order_by(OutboxMessageModel.created_at.desc())
            )
        ).first()
    assert handled is not None
    assert handled >= 3
    assert message is not None
    redelivered = await api.container.jobs.run(DISPATCH_EVENT_JOB, message.payload, None)
    assert redelivered["handled"] == []
    assert (await api.types()).count("password_changed") == 1
    assert (
        len(
            [
                m
                for m in await api.container.notifications.list_sent_emails(ListSentEmailsQuery())
                if m.to == "ada@example.com"
            ]
        )
        == 1
    )


async def test_an_announcement_fans_out_and_its_mail_unsubscribes_in_one_click(api: Api) -> None:
    refused = await api.call("POST", "/api/v1/admin/announcements", json={"title": "t", "body": "b"})
    assert refused.status_code == 403
    bad = await api.call(
        "POST", "/api/v1/admin/announcements", "root", json={"title": "t", "body": "b", "audience": "x"}
    )
    assert bad.status_code == 422
    accepted = await api.call(
        "POST",
        "/api/v1/admin/announcements",
        "root",
        json={"title": "Maintenance tonight", "body": "From 22:00 UTC.", "audience": "tier:free"},
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["audience"] == "tier:free"
    await wait_until(lambda: _has(api, "ada", "announcement"), timeout=15)
    await wait_until(lambda: _has(api, "bob", "announcement"), timeout=15)
    # Announcements e-mail is on by default: the digest sends it, with a one-click unsubscribe link.
    run = await api.container.notifications.send_email_digests()
    assert run.sent >= 2
    mails = [
        m
        for m in await api.container.notifications.list_sent_emails(ListSentEmailsQuery())
        if m.to == "ada@example.com"
    ]
    (mail,) = [m for m in mails if m.category == "announcements"]
    assert mail.subject == "[Parley] Maintenance tonight"
    assert "From 22:00 UTC." in mail.text
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = urlsplit(mail.headers["List-Unsubscribe"].strip("<>"))
    assert link.netloc == "parley.example.com"
    # RFC 8058: a POST with that body, no sign-in.
    unsubscribed = await api.client.post(
        f"{link.path}?{link.query}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert unsubscribed.status_code == 200, unsubscribed.text
    assert unsubscribed.json() == {"category": "announcements", "email": False}
    prefs = (await api.call("GET", "/api/v1/notifications/preferences")).json()["categories"]
    assert prefs["announcements"] == {"in_app": True, "email": False}
    forged = await api.client.post(f"{link.path}?{link.query[:-3]}abc")
    assert forged.status_code == 422


async def test_budget_thresholds_notify_once_each_per_month(api: Api) -> None:
    user_id = uuid.UUID((await api.call("GET", "/api/v1/users/me")).json()["id"])
    container = api.container
    for _ in range(3):  # three charges of $2 against the free tier's $5
        now = container.clock.now()
        async with container.uow() as tx:
            await tx.usage.record(
                UsageRecord(
                    uuid.uuid4(), user_id, UsageKind.REPLY, "offline/echo", "offline", Usage(1, 1), 2_000_000, now
                )
            )
        await container.notifications.check_budget_thresholds(
            UsageCharged(event_id=uuid.uuid4(), occurred_at=now, user_id=user_id, cost_micros=2_000_000)
        )
    await wait_until(lambda: _has(api, "ada", "budget_threshold", 2), timeout=15)
    await asyncio.sleep(0.3)
    budget = [i for i in (await api.inbox())["items"] if i["type"] == "budget_threshold"]
    assert sorted(i["data"]["percent"] for i in budget) == [80, 100]


async def test_read_notifications_past_retention_are_pruned(api: Api) -> None:
    page = await api.inbox()
    welcome = page["items"][0]["id"]
    await api.call("POST", f"/api/v1/notifications/{welcome}/read")
    old = api.container.clock.now() - timedelta(days=91)
    async with api.container.uow() as tx:
        await tx.session.execute(update(NotificationModel).values(created_at=old))
    result = await api.container.notifications.prune_notifications(PruneNotificationsCommand())
    assert result.notifications == 1  # Ada's read one; Bob's unread welcome stays
    assert (await api.inbox())["items"] == []
    assert len((await api.inbox("bob"))["items"]) == 1


async def test_a_notification_reaches_a_subscriber_on_another_instance_over_redis(
    make_settings: SettingsFactory, sqlite_url: str, redis_url: str
) -> None:
    settings = make_settings(DATABASE_URL=sqlite_url, REDIS_URL=redis_url)
    await asyncio.to_thread(Migrator(settings).upgrade)
    one, two = build_container(settings, role="api"), build_container(settings, role="api")
    for c in (one, two):
        assert c.pubsub is not None
        c.pubsub.start()
    try:
        user = uuid.uuid4()
        async with one.realtime.user_events.subscribe(user) as events:
            heard: list[UserEvent] = []

            async def listen() -> None:
                async for event in events:
                    heard.append(event)
                    return

            listener = asyncio.create_task(listen())
            await asyncio.sleep(0.2)
            await two.realtime.user_events.publish(
                UserEvent(type="notification", user_id=user, data={"id": "n-1", "title": "hi"})
            )
            await asyncio.wait_for(listener, 5)
        assert heard[0].type == "notification"
        assert heard[0].data["title"] == "hi"
    finally:
        for c in (one, two):
            await c.shutdown()
