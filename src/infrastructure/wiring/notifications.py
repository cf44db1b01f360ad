"""Wiring of the ``notifications`` context: its use cases, its adapters, its jobs and the event bus."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from src.application.notifications.delete_notification import DeleteNotification
from src.application.notifications.email import DeliverEmail, EmailComposer
from src.application.notifications.fan_out_announcement import FanOutAnnouncement
from src.application.notifications.get_preferences import GetPreferences
from src.application.notifications.get_sent_email import GetSentEmail
from src.application.notifications.list_notifications import ListNotifications
from src.application.notifications.list_sent_emails import ListSentEmails
from src.application.notifications.mark_all_notifications_read import MarkAllNotificationsRead
from src.application.notifications.mark_notification_read import MarkNotificationRead
from src.application.notifications.notifications_after import NotificationsAfter
from src.application.notifications.notify import Notify
from src.application.notifications.prune_notifications import PruneNotifications, PruneNotificationsCommand
from src.application.notifications.publish_announcement import PublishAnnouncement
from src.application.notifications.reactions import NotificationReactions
from src.application.notifications.send_email_digests import SendEmailDigests
from src.application.notifications.unsubscribe import Unsubscribe
from src.application.notifications.update_preferences import UpdatePreferences
from src.application.usage.budget_alerts import CheckBudgetThresholds
from src.infrastructure.notifications.live_push import UserEventLivePush
from src.infrastructure.notifications.mailers import ConsoleMailer, SmtpConfig, SmtpMailer
from src.infrastructure.notifications.templates import FileEmailTemplates
from src.infrastructure.notifications.unsubscribe import HmacUnsubscribeLinks
from src.infrastructure.queue.schedule import DISPATCH_EVENT, EMAIL_DIGESTS, PRUNE_NOTIFICATIONS_JOB
from src.infrastructure.settings import ConfigError, Settings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from src.application.chat.ports import UserEvents
    from src.application.notifications.ports import Mailer
    from src.application.shared.dispatch_event import DispatchEvent
    from src.application.shared.ports import Clock
    from src.application.unit_of_work import AppUnitOfWorkFactory
    from src.domain.usage.model import TierBudgets

    # The job catalog brings tracing (OpenTelemetry): only the full container, which runs jobs, needs it.
    from src.infrastructure.queue.catalog import JobSpec


@dataclass(slots=True)
class NotificationServices:
    list_notifications: ListNotifications
    notifications_after: NotificationsAfter
    mark_read: MarkNotificationRead
    mark_all_read: MarkAllNotificationsRead
    delete_notification: DeleteNotification
    get_preferences: GetPreferences
    update_preferences: UpdatePreferences
    unsubscribe: Unsubscribe
    publish_announcement: PublishAnnouncement
    fan_out_announcement: FanOutAnnouncement
    notify: Notify
    reactions: NotificationReactions
    check_budget_thresholds: CheckBudgetThresholds
    send_email_digests: SendEmailDigests
    prune_notifications: PruneNotifications
    list_sent_emails: ListSentEmails
    get_sent_email: GetSentEmail
    mailer: Mailer
    unsubscribe_links: HmacUnsubscribeLinks


def build_mailer(settings: Settings) -> Mailer:
    """SMTP when ``SMTP_URL`` is set, else the console (the embedded default)."""
    if settings.notifications.smtp_url is None:
        return ConsoleMailer(settings.notifications.mail_from)
    try:
        config = SmtpConfig.from_url(settings.notifications.smtp_url, timeout=settings.notifications.smtp_timeout)
    except ValueError as exc:
        raise ConfigError("SMTP_URL", str(exc)) from None
    return SmtpMailer(config, settings.notifications.mail_from)


def build_notifications(
    settings: Settings,
    uow: AppUnitOfWorkFactory,
    clock: Clock,
    user_events: UserEvents,
    tier_budgets: TierBudgets,
    *,
    mailer: Mailer | None = None,
) -> NotificationServices:
    mailer = mailer or build_mailer(settings)
    links = HmacUnsubscribeLinks(settings.identity.secret_key, settings.server.public_url)
    push = UserEventLivePush(user_events)
    composer = EmailComposer(FileEmailTemplates(), links)
    deliver = DeliverEmail(uow, clock, mailer)
    notify = Notify(uow, clock, push, composer, deliver)
    return NotificationServices(
        list_notifications=ListNotifications(uow),
        notifications_after=NotificationsAfter(uow),
        mark_read=MarkNotificationRead(uow, clock),
        mark_all_read=MarkAllNotificationsRead(uow, clock),
        delete_notification=DeleteNotification(uow),
        get_preferences=GetPreferences(uow),
        update_preferences=UpdatePreferences(uow, clock),
        unsubscribe=Unsubscribe(uow, clock, links),
        publish_announcement=PublishAnnouncement(uow, clock),
        fan_out_announcement=FanOutAnnouncement(uow, clock, push),
        notify=notify,
        reactions=NotificationReactions(notify),
        check_budget_thresholds=CheckBudgetThresholds(uow, tier_budgets, clock),
        send_email_digests=SendEmailDigests(
            uow, clock, composer, deliver, timedelta(minutes=settings.notifications.email_digest_minutes)
        ),
        prune_notifications=PruneNotifications(uow, clock, timedelta(days=settings.notifications.retention_days)),
        list_sent_emails=ListSentEmails(uow),
        get_sent_email=GetSentEmail(uow),
        mailer=mailer,
        unsubscribe_links=links,
    )


def notification_jobs(services: NotificationServices, dispatch_event: DispatchEvent) -> list[JobSpec]:
    """The event bus's dispatch job, the digest and the prune (cron)."""
    from src.infrastructure.queue.catalog import JobSpec

    async def dispatch(payload: Mapping[str, Any]) -> dict[str, Any]:
        result = await dispatch_event(payload)
        return {"event": result.event_type, "handled": result.handled, "skipped": result.skipped}

    async def digests(_payload: Mapping[str, Any]) -> dict[str, int]:
        run = await services.send_email_digests()
        return {"sent": run.sent, "dropped": run.dropped}

    async def prune(payload: Mapping[str, Any]) -> dict[str, int]:
        result = await services.prune_notifications(PruneNotificationsCommand(int(payload.get("batch_size", 1000))))
        return {"notifications": result.notifications, "processed_events": result.processed_events}

    return [
        JobSpec.of(DISPATCH_EVENT, dispatch),
        JobSpec.of(EMAIL_DIGESTS, digests),
        JobSpec.of(PRUNE_NOTIFICATIONS_JOB, prune),
    ]
