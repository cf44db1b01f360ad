"""Errors of the notifications context, each with a stable code the front doors map."""

from __future__ import annotations

from src.domain.shared.errors import InvalidInput, NotFound


class NotificationNotFound(NotFound):
    code = "notification_not_found"
    title = "Notification not found"


class InvalidPreferences(InvalidInput):
    """Unknown category, unknown channel, or security e-mail turned off."""

    code = "invalid_notification_preferences"
    title = "Invalid notification preferences"


class InvalidAnnouncement(InvalidInput):
    code = "invalid_announcement"
    title = "Invalid announcement"


class InvalidUnsubscribeLink(InvalidInput):
    code = "invalid_unsubscribe_link"
    title = "Invalid unsubscribe link"
