"""What the announcement use cases share: an administrator tells everyone (or one role, or one tier)
something.

``PublishAnnouncement`` records ``AnnouncementPublished``; its handler ``FanOutAnnouncement`` writes
one notification per recipient in keyset batches, each batch in its own transaction claimed by a
receipt, so a retried job resumes where it failed and never writes a batch twice.
"""

from __future__ import annotations

from typing import Protocol

from src.application.admin.ports import AuditTransaction
from src.application.notifications.ports import NotificationsTransaction


class AnnouncementTransaction(NotificationsTransaction, AuditTransaction, Protocol):
    """Notifications' repositories and the audit log."""


FAN_OUT_RECEIPT = "announcement_batch"
