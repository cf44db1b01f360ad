"""One notifications "world" per test: the use cases wired to the in-memory fakes and one fake clock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from src.application.notifications.delete_notification import DeleteNotification
from src.application.notifications.email import DeliverEmail, EmailComposer
from src.application.notifications.fan_out_announcement import FanOutAnnouncement
from src.application.notifications.get_preferences import GetPreferences
from src.application.notifications.list_notifications import ListNotifications
from src.application.notifications.mark_all_notifications_read import MarkAllNotificationsRead
from src.application.notifications.mark_notification_read import MarkNotificationRead
from src.application.notifications.notifications_after import NotificationsAfter
from src.application.notifications.notify import Notify
from src.application.notifications.prune_notifications import PruneNotifications
from src.application.notifications.publish_announcement import PublishAnnouncement
from src.application.notifications.reactions import NotificationReactions
from src.application.notifications.send_email_digests import SendEmailDigests
from src.application.notifications.unsubscribe import Unsubscribe
from src.application.notifications.update_preferences import UpdatePreferences
from src.application.shared.dispatch_event import DispatchEvent, EventHandler
from src.application.usage.budget_alerts import CheckBudgetThresholds
from src.domain.identity.model import Principal, Role, Tier, User, permissions_of
from src.domain.shared.events import DomainEvent
from src.domain.usage.model import TierBudgets
from src.infrastructure.notifications.templates import FileEmailTemplates
from src.infrastructure.notifications.unsubscribe import HmacUnsubscribeLinks
from tests.fakes.notifications import RecordingLivePush, RecordingMailer
from tests.fakes.shared import FakeClock, FakeUnitOfWorkFactory


class RecordingObserver:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, Any]]] = []

    def dispatched(self, event: DomainEvent, outcome: str, **details: Any) -> None:
        self.seen.append((event.event_name(), outcome, details))


@dataclass
class World:
    clock: FakeClock = field(default_factory=FakeClock)
    mailer: RecordingMailer = field(default_factory=RecordingMailer)
    push: RecordingLivePush = field(default_factory=RecordingLivePush)
    observer: RecordingObserver = field(default_factory=RecordingObserver)

    def __post_init__(self) -> None:
        self.uow = FakeUnitOfWorkFactory(clock=self.clock)
        self.db = self.uow.database
        uow, clock = self.uow, self.clock
        self.links = HmacUnsubscribeLinks("k" * 40, "https://parley.test")
        self.composer = EmailComposer(FileEmailTemplates(), self.links)
        self.deliver = DeliverEmail(uow, clock, self.mailer)
        self.notify = Notify(uow, clock, self.push, self.composer, self.deliver)
        self.reactions = NotificationReactions(self.notify)
        self.list = ListNotifications(uow)
        self.after = NotificationsAfter(uow)
        self.mark_read = MarkNotificationRead(uow, clock)
        self.mark_all_read = MarkAllNotificationsRead(uow, clock)
        self.delete = DeleteNotification(uow)
        self.prune = PruneNotifications(uow, clock, timedelta(days=90))
        self.get_preferences = GetPreferences(uow)
        self.update_preferences = UpdatePreferences(uow, clock)
        self.unsubscribe = Unsubscribe(uow, clock, self.links)
        self.digests = SendEmailDigests(uow, clock, self.composer, self.deliver, timedelta(minutes=15))
        self.publish = PublishAnnouncement(uow, clock)
        self.fan_out = FanOutAnnouncement(uow, clock, self.push, batch_size=3)
        self.budgets = TierBudgets(free_micros=5_000_000, pro_micros=50_000_000)
        self.check_budget = CheckBudgetThresholds(uow, self.budgets, clock)

    def dispatcher(self, table: dict[type[DomainEvent], list[EventHandler]]) -> DispatchEvent:
        return DispatchEvent(self.uow, self.clock, table, self.observer)

    def add_user(self, name: str, *, role: Role = Role.CREATOR, tier: Tier = Tier.FREE, active: bool = True) -> User:
        now = self.clock.now()
        user = User(
            id=uuid.uuid5(uuid.NAMESPACE_DNS, name),
            email=f"{name}@example.com",
            display_name=name.title(),
            password_hash="x",
            role=role,
            tier=tier,
            is_active=active,
            created_at=now,
            updated_at=now,
        )
        self.db.identity.users[user.id] = user
        return user


def principal_of(user: User) -> Principal:
    return Principal(
        user_id=user.id, email=user.email, role=user.role, tier=user.tier, permissions=permissions_of(user.role)
    )


@pytest.fixture
def world() -> World:
    return World()
