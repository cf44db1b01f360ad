"""What the in-app inbox's use cases share (``list_notifications``, ``notifications_after``,
``mark_notification_read``, ``mark_all_notifications_read``, ``delete_notification``): page sizes.

Someone else's notification does not exist as far as the caller can tell: ``notification_not_found``.
"""

from __future__ import annotations

MAX_PAGE = 100
DEFAULT_PAGE = 20
