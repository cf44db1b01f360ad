"""What each domain event tells its user: the notification drafts, one function per event.

The event bus (``src/infrastructure/wiring/events.py``) calls these through ``NotificationReactions``;
each notification is keyed by its event id, so a redelivered event notifies once.
"""

from __future__ import annotations

from src.application.notifications.notify import NotificationDraft, Notify
from src.domain.chat.events import ReplyFailed
from src.domain.identity.events import ApiKeyCreated, PasswordChanged, RefreshTokenReuseDetected, UserRegistered
from src.domain.knowledge.events import ArticleSummarized, ParagraphsFetched
from src.domain.notifications.model import Category
from src.domain.usage.events import BudgetThresholdReached
from src.domain.usage.model import micros_to_dollars


def welcome(event: UserRegistered) -> NotificationDraft:
    return NotificationDraft(
        event.user_id,
        Category.SYSTEM,
        "welcome",
        f"Welcome to Parley, {event.display_name}",
        "Your account is ready. Start a conversation, or add articles to your knowledge base.",
        str(event.event_id),
    )


def password_changed(event: PasswordChanged) -> NotificationDraft:
    who = "An administrator reset your password" if event.by == "admin" else "Your password was changed"
    return NotificationDraft(
        event.user_id,
        Category.SECURITY,
        "password_changed",
        who,
        f"{who} at {event.occurred_at:%Y-%m-%d %H:%M} UTC. Your other sessions were signed out. "
        "If this was not you, reset your password at once.",
        str(event.event_id),
    )


def token_reuse(event: RefreshTokenReuseDetected) -> NotificationDraft:
    return NotificationDraft(
        event.user_id,
        Category.SECURITY,
        "refresh_token_reuse",
        "A sign-in that looks like theft was stopped",
        "A session token of yours was used after it had been replaced, which happens when it was copied. "
        "That session was signed out everywhere. If you did not expect this, change your password.",
        str(event.event_id),
        {"family_id": str(event.family_id)},
    )


def api_key_created(event: ApiKeyCreated) -> NotificationDraft:
    return NotificationDraft(
        event.user_id,
        Category.SECURITY,
        "api_key_created",
        f"New API key {event.name!r}",
        f"An API key named {event.name!r} ({event.prefix}...) was created on your account. "
        "If this was not you, revoke it and change your password.",
        str(event.event_id),
        {"key_id": str(event.key_id), "prefix": event.prefix},
    )


def budget_threshold(event: BudgetThresholdReached) -> NotificationDraft:
    spent, budget = micros_to_dollars(event.spent_micros), micros_to_dollars(event.budget_micros)
    if event.percent >= 100:
        title, body = (
            "Your monthly AI budget is spent",
            f"You spent ${spent} of ${budget}; AI requests wait for next month.",
        )
    else:
        title, body = f"{event.percent}% of your monthly AI budget is spent", f"You spent ${spent} of ${budget}."
    return NotificationDraft(
        event.user_id,
        Category.BUDGET,
        "budget_threshold",
        title,
        body,
        str(event.event_id),
        {
            "percent": event.percent,
            "period": event.period,
            "spent_micros": event.spent_micros,
            "budget_micros": event.budget_micros,
        },
    )


def article_summarized(event: ArticleSummarized) -> NotificationDraft:
    return NotificationDraft(
        event.user_id,
        Category.CONTENT,
        "article_summarized",
        f"Summary ready: {event.title}",
        f"The summary of {event.title!r} is ready.",
        str(event.event_id),
        {"article_id": str(event.article_id)},
    )


def paragraphs_fetched(event: ParagraphsFetched) -> NotificationDraft:
    count = len(event.paragraph_ids)
    return NotificationDraft(
        event.user_id,
        Category.CONTENT,
        "paragraphs_fetched",
        f"{count} new paragraph{'s' if count != 1 else ''} fetched",
        "They are in the knowledge base and searchable now.",
        str(event.event_id),
        {"paragraph_ids": list(event.paragraph_ids)},
    )


def reply_failed(event: ReplyFailed) -> NotificationDraft:
    return NotificationDraft(
        event.user_id,
        Category.SYSTEM,
        "reply_failed",
        "A reply could not be finished",
        f"The model's reply ended with an error ({event.error_code}). You can regenerate it.",
        str(event.event_id),
        {
            "conversation_id": str(event.conversation_id),
            "message_id": str(event.message_id),
            "error_code": event.error_code,
        },
    )


class NotificationReactions:
    """The event handlers of the notifications context (bound methods for the event table)."""

    def __init__(self, notify: Notify) -> None:
        self._notify = notify

    async def user_registered(self, event: UserRegistered) -> None:
        await self._notify(welcome(event))

    async def password_changed(self, event: PasswordChanged) -> None:
        await self._notify(password_changed(event))

    async def refresh_token_reuse(self, event: RefreshTokenReuseDetected) -> None:
        await self._notify(token_reuse(event))

    async def api_key_created(self, event: ApiKeyCreated) -> None:
        await self._notify(api_key_created(event))

    async def budget_threshold(self, event: BudgetThresholdReached) -> None:
        await self._notify(budget_threshold(event))

    async def article_summarized(self, event: ArticleSummarized) -> None:
        await self._notify(article_summarized(event))

    async def paragraphs_fetched(self, event: ParagraphsFetched) -> None:
        await self._notify(paragraphs_fetched(event))

    async def reply_failed(self, event: ReplyFailed) -> None:
        await self._notify(reply_failed(event))
