"""THE event table: which handlers run for each domain event, in this order.

Every domain event a use case records (``record_event``) is dispatched by the ``dispatch_event``
job to the handlers listed here. A handler's name keys its processed-events record: renaming one
makes it run again for events it already handled (within the record's retention), so keep names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from src.application.shared.dispatch_event import DispatchEvent, EventHandler, EventHandlerTable
from src.application.shared.ports import Clock
from src.application.unit_of_work import AppUnitOfWorkFactory
from src.domain.chat.events import ReplyFailed
from src.domain.identity.events import ApiKeyCreated, PasswordChanged, RefreshTokenReuseDetected, UserRegistered
from src.domain.knowledge.events import ArticleSummarized, ParagraphsFetched
from src.domain.notifications.events import AnnouncementPublished
from src.domain.usage.events import BudgetThresholdReached, UsageCharged
from src.infrastructure.notifications.event_observer import LoggingEventObserver

if TYPE_CHECKING:
    from src.infrastructure.wiring.notifications import NotificationServices


def build_event_dispatch(uow: AppUnitOfWorkFactory, clock: Clock, services: NotificationServices) -> DispatchEvent:
    return DispatchEvent(uow, clock, event_handler_table(services), LoggingEventObserver())


def event_handler_table(n: NotificationServices) -> EventHandlerTable:
    r = n.reactions
    return {
        # -- identity -------------------------------------------------------------------------------
        UserRegistered: [EventHandler("notifications.welcome", r.user_registered)],
        PasswordChanged: [EventHandler("notifications.password_changed", r.password_changed)],
        RefreshTokenReuseDetected: [EventHandler("notifications.refresh_token_reuse", r.refresh_token_reuse)],
        ApiKeyCreated: [EventHandler("notifications.api_key_created", r.api_key_created)],
        # -- usage: a charge may cross 80% / 100% of the month's budget (raises the next event) -----
        UsageCharged: [EventHandler("usage.check_budget_thresholds", n.check_budget_thresholds)],
        BudgetThresholdReached: [EventHandler("notifications.budget_threshold", r.budget_threshold)],
        # -- knowledge ------------------------------------------------------------------------------
        ArticleSummarized: [EventHandler("notifications.article_summarized", r.article_summarized)],
        ParagraphsFetched: [EventHandler("notifications.paragraphs_fetched", r.paragraphs_fetched)],
        # -- chat -----------------------------------------------------------------------------------
        ReplyFailed: [EventHandler("notifications.reply_failed", r.reply_failed)],
        # -- notifications --------------------------------------------------------------------------
        AnnouncementPublished: [EventHandler("notifications.fan_out_announcement", n.fan_out_announcement)],
    }
