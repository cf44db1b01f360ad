"""The notifications routes under ``/api/v1``: the inbox and its live stream, preferences, the
one-click unsubscribe of e-mail, and admin announcements."""

from __future__ import annotations

from src.interfaces.http.routes.notifications.inbox import NotificationsController
from src.interfaces.http.routes.notifications.preferences import (
    AnnouncementsController,
    PreferencesController,
    UnsubscribeController,
)

NOTIFICATION_CONTROLLERS = [
    NotificationsController,
    PreferencesController,
    UnsubscribeController,
    AnnouncementsController,
]
