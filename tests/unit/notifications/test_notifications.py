"""The notifications use cases on fakes: inbox, preferences, e-mail and digest, budget alerts, announcements."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from src.application.notifications.delete_notification import DeleteNotificationCommand
from src.application.notifications.list_notifications import ListNotificationsQuery
from src.application.notifications.mark_notification_read import MarkNotificationReadCommand
from src.application.notifications.notifications_after import NotificationsAfterQuery
from src.application.notifications.notify import NotificationDraft
from src.application.notifications.prune_notifications import PruneNotificationsCommand
from src.application.notifications.publish_announcement import PublishAnnouncementCommand
from src.application.notifications.unsubscribe import UnsubscribeCommand
from src.application.notifications.update_preferences import UpdatePreferencesCommand
from src.domain.identity.errors import Forbidden
from src.domain.identity.events import PasswordChanged
from src.domain.identity.model import Role, Tier
from src.domain.llm.model import Usage
from src.domain.notifications.errors import InvalidUnsubscribeLink, NotificationNotFound
from src.domain.notifications.events import AnnouncementPublished
from src.domain.notifications.model import Category
from src.domain.usage.events import UsageCharged
from src.domain.usage.model import UsageKind, UsageRecord
from tests.unit.notifications.conftest import World, principal_of


def draft(user_id: uuid.UUID, n: int, category: Category = Category.CONTENT) -> NotificationDraft:
    return NotificationDraft(user_id, category, "test", f"title {n}", f"body {n}", f"key-{n}")


async def test_a_notification_is_stored_once_and_pushed_live(world: World) -> None:
    ada = world.add_user("ada")
    first = await world.notify(draft(ada.id, 1))
    again = await world.notify(draft(ada.id, 1))
    assert first.stored is not None
    assert again.stored is None
    assert [uid for uid, _ in world.push.pushed] == [ada.id]
    assert world.push.pushed[0][1]["title"] == "title 1"


async def test_inbox_pages_newest_first_with_unread_count_and_cursor(world: World) -> None:
    ada, bob = world.add_user("ada"), world.add_user("bob")
    for n in range(5):
        world.clock.advance(1)
        await world.notify(draft(ada.id, n))
    await world.notify(draft(bob.id, 99))
    me = principal_of(ada)
    page = await world.list(me, ListNotificationsQuery(limit=2))
    assert [i.title for i in page.items] == ["title 4", "title 3"]
    assert page.unread_count == 5
    assert page.next_cursor == page.items[-1].id
    rest = await world.list(me, ListNotificationsQuery(before=page.next_cursor, limit=10))
    assert [i.title for i in rest.items] == ["title 2", "title 1", "title 0"]
    assert rest.next_cursor is None
    await world.mark_read(me, MarkNotificationReadCommand(page.items[0].id))
    unread = await world.list(me, ListNotificationsQuery(unread_only=True))
    assert unread.unread_count == 4
    assert page.items[0].id not in [i.id for i in unread.items]
    assert await world.mark_all_read(me) == 4
    assert (await world.list(me, ListNotificationsQuery())).unread_count == 0
    missed = await world.after(me, NotificationsAfterQuery(rest.items[0].id))
    assert [v.title for v in missed] == ["title 3", "title 4"]


async def test_someone_elses_notification_does_not_exist(world: World) -> None:
    ada, bob = world.add_user("ada"), world.add_user("bob")
    stored = (await world.notify(draft(bob.id, 1))).stored
    assert stored is not None
    with pytest.raises(NotificationNotFound):
        await world.mark_read(principal_of(ada), MarkNotificationReadCommand(stored.id))
    with pytest.raises(NotificationNotFound):
        await world.delete(principal_of(ada), DeleteNotificationCommand(stored.id))
    await world.delete(principal_of(bob), DeleteNotificationCommand(stored.id))
    with pytest.raises(NotificationNotFound):
        await world.delete(principal_of(bob), DeleteNotificationCommand(stored.id))


async def test_in_app_off_stores_nothing_and_email_on_queues_for_the_digest(world: World) -> None:
    ada = world.add_user("ada")
    await world.update_preferences(
        principal_of(ada), UpdatePreferencesCommand({"content": {"in_app": False, "email": True}})
    )
    result = await world.notify(draft(ada.id, 1))
    assert result.stored is None
    assert result.queued_email
    assert not world.push.pushed


async def test_the_digest_batches_a_window_into_one_mail_per_user_and_category(world: World) -> None:
    ada = world.add_user("ada")
    await world.update_preferences(principal_of(ada), UpdatePreferencesCommand({"content": {"email": True}}))
    await world.notify(draft(ada.id, 1))
    await world.notify(draft(ada.id, 2))
    run = await world.digests()
    assert run.sent == 1
    (mail,) = world.mailer.sent
    assert mail.to == "ada@example.com"
    assert mail.subject == "[Parley] 2 new content notifications"
    assert "title 1" in mail.text
    assert "title 2" in mail.text
    assert "<h2" in mail.html
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.headers["List-Unsubscribe"].startswith("<https://parley.test/api/v1/notifications/unsubscribe?token=")
    # Inside the window: the next one waits; after it, it goes out.
    await world.notify(draft(ada.id, 3))
    world.clock.advance(60)
    assert (await world.digests()).sent == 0
    world.clock.advance(15 * 60)
    assert (await world.digests()).sent == 1
    assert world.mailer.sent[-1].subject == "[Parley] title 3"
    assert len(world.db.notifications.sent) == 2


async def test_security_mail_goes_out_at_once_without_an_unsubscribe_link(world: World) -> None:
    ada = world.add_user("ada")
    event = PasswordChanged(event_id=uuid.uuid4(), occurred_at=world.clock.now(), user_id=ada.id)
    await world.reactions.password_changed(event)
    (mail,) = world.mailer.sent
    assert "Your password was changed" in mail.subject
    assert "List-Unsubscribe" not in mail.headers
    assert "cannot be turned off" in mail.text
    assert (await world.digests()).sent == 0  # nothing waits for a digest


async def test_a_refused_security_mail_raises_so_the_job_retries_without_a_second_notification(world: World) -> None:
    ada = world.add_user("ada")
    world.mailer.fail_times = 1
    event = PasswordChanged(event_id=uuid.uuid4(), occurred_at=world.clock.now(), user_id=ada.id)
    with pytest.raises(ConnectionRefusedError):
        await world.reactions.password_changed(event)
    await world.reactions.password_changed(event)
    assert len(world.mailer.sent) == 1
    assert len(world.db.notifications.notifications) == 1
    assert len(world.push.pushed) == 1


async def test_one_click_unsubscribe_turns_that_category_email_off(world: World) -> None:
    ada = world.add_user("ada")
    token = world.links.token(ada.id, Category.ANNOUNCEMENTS)
    assert await world.unsubscribe(UnsubscribeCommand(token)) == "announcements"
    prefs = await world.get_preferences(principal_of(ada))
    assert prefs.categories["announcements"] == {"in_app": True, "email": False}
    assert prefs.categories["budget"] == {"in_app": True, "email": True}
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (forged, "nonsense", f"{ada.id}.security.x"):
        with pytest.raises(InvalidUnsubscribeLink):
            await world.unsubscribe(UnsubscribeCommand(bad))


async def test_budget_thresholds_are_raised_once_each_per_month(world: World) -> None:
    ada = world.add_user("ada")  # free tier: $5 a month

    async def charge(micros: int) -> list[int]:
        now = world.clock.now()
        record = UsageRecord(uuid.uuid4(), ada.id, UsageKind.REPLY, "offline/echo", "offline", Usage(1, 1), micros, now)
        async with world.uow() as tx:
            await tx.usage.record(record)
        return await world.check_budget(
            UsageCharged(event_id=uuid.uuid4(), occurred_at=now, user_id=ada.id, cost_micros=micros)
        )

    assert await charge(3_000_000) == []
    assert await charge(1_000_000) == [80]
    assert await charge(500_000) == []
    assert await charge(600_000) == [100]
    assert await charge(600_000) == []
    events = [m.payload for m in world.db.shared.outbox.values() if m.payload.get("type") == "BudgetThresholdReached"]
    assert [e["event"]["percent"] for e in events] == [80, 100]


async def test_an_announcement_fans_out_in_batches_to_its_audience_honouring_preferences(world: World) -> None:
    admin = world.add_user("root", role=Role.ADMIN, tier=Tier.PRO)
    members = [world.add_user(f"user{n}") for n in range(7)]
    world.add_user("gone", active=False)
    await world.update_preferences(
        principal_of(members[0]), UpdatePreferencesCommand({"announcements": {"in_app": False, "email": False}})
    )
    with pytest.raises(Forbidden):
        await world.publish(principal_of(members[1]), PublishAnnouncementCommand("t", "b", "all"))
    view = await world.publish(
        principal_of(admin), PublishAnnouncementCommand("Maintenance", "Tonight at 22:00.", "tier:free")
    )
    (message,) = world.db.shared.outbox.values()
    assert message.payload["type"] == "AnnouncementPublished"
    event = AnnouncementPublished(
        event_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        announcement_id=view.id,
        author_id=admin.id,
        title="Maintenance",
        body="Tonight at 22:00.",
        audience="tier:free",
    )
    result = await world.fan_out(event)
    assert (result.recipients, result.stored, result.batches) == (7, 6, 3)
    again = await world.fan_out(event)  # a retried job writes no batch twice
    assert again.stored == 0
    stored = world.db.notifications.notifications.values()
    assert {n.user_id for n in stored} == {m.id for m in members[1:]}
    assert len(world.db.notifications.pending) == 6  # announcements mail by default


async def test_prune_keeps_unread_and_recent(world: World) -> None:
    ada = world.add_user("ada")
    me = principal_of(ada)
    old_read = (await world.notify(draft(ada.id, 1))).stored
    await world.notify(draft(ada.id, 2))  # old but unread
    assert old_read is not None
    await world.mark_read(me, MarkNotificationReadCommand(old_read.id))
    world.clock.advance(91 * 86400)
    recent = (await world.notify(draft(ada.id, 3))).stored
    assert recent is not None
    await world.mark_read(me, MarkNotificationReadCommand(recent.id))
    result = await world.prune(PruneNotificationsCommand())
    assert result.notifications == 1
    titles = sorted(n.title for n in world.db.notifications.notifications.values())
    assert titles == ["title 2", "title 3"]
