"""Members' reports of content, and the moderation queue's errors."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

from src.domain.shared.errors import Conflict, InvalidInput, NotFound

MAX_REPORT_REASON = 1000


class ReportKind(enum.StrEnum):
    """What a member may report: a message they can see, or a public article."""

    MESSAGE = "message"
    ARTICLE = "article"


@dataclass(frozen=True, slots=True)
class ContentReport:
    id: uuid.UUID
    reporter_id: uuid.UUID
    kind: ReportKind
    target_id: uuid.UUID
    reason: str
    created_at: datetime


def clean_report_reason(raw: str) -> str:
    reason = " ".join(raw.split())
    if not 1 <= len(reason) <= MAX_REPORT_REASON:
        raise InvalidReport(f"reason must be 1-{MAX_REPORT_REASON} characters", extra={"field": "reason"})
    return reason


def parse_report_kind(raw: str) -> ReportKind:
    try:
        return ReportKind(raw)
    except ValueError:
        raise InvalidReport("kind must be message or article", extra={"field": "kind"}) from None


class InvalidReport(InvalidInput):
    code = "invalid_report"
    title = "Invalid report"


class AlreadyReported(Conflict):
    code = "already_reported"
    title = "You reported this already"


class ReportedContentNotFound(NotFound):
    """The content does not exist or the reporter cannot see it (the same answer: nothing is revealed)."""

    code = "content_not_found"
    title = "There is no such content you can see"


class ModerationItemNotFound(NotFound):
    code = "moderation_item_not_found"
    title = "There is no moderation item with this id"


class AlreadyResolved(Conflict):
    code = "moderation_item_resolved"
    title = "This item is resolved already"


class InvalidResolution(InvalidInput):
    code = "invalid_resolution"
    title = "This action does not apply to this item"
