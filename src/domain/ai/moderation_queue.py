"""The moderation queue: things a scanner or a moderator flagged, for a person to review.

Scanners enqueue them (this context); members' reports add to them; the admin console lists and
resolves them (``src/application/admin/resolve_moderation_item.py``): dismissed, hidden or deleted.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from src.domain.admin.moderation import AlreadyResolved, InvalidResolution

EXCERPT_CHARS = 280
#: The reason a member's report adds to an item.
USER_REPORT_REASON = "user_report"
MAX_RESOLUTION_NOTE = 1000


class ModerationItemKind(enum.StrEnum):
    #: A user's chat message (``target_id``: the message).
    MESSAGE = "message"
    #: A model's reply (``target_id``: the message).
    REPLY = "reply"
    #: A grounding passage of the user's knowledge that reads like an injection (``target_id``: its source).
    PASSAGE = "passage"
    #: The input of an AI tool request (``/ai/*``; ``target_id``: an id of its own, nothing is stored).
    TOOL_INPUT = "tool_input"
    #: A public article a member reported (``target_id``: the article).
    ARTICLE = "article"

    @property
    def is_content(self) -> bool:
        """Whether the target is stored content a moderator can hide or delete."""
        return self in (ModerationItemKind.MESSAGE, ModerationItemKind.REPLY, ModerationItemKind.ARTICLE)


class ModerationItemStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ModerationAction(enum.StrEnum):
    #: Nothing wrong: the content stays as it is.
    DISMISS = "dismiss"
    #: The content disappears for everyone but its author and staff.
    HIDE = "hide"
    #: The content is gone.
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class ModerationItem:
    id: uuid.UUID
    kind: ModerationItemKind
    target_id: uuid.UUID
    user_id: uuid.UUID | None
    #: Stable codes: the prompt-injection reasons (``instruction_override``, ...) or ``moderation:<category>``.
    reasons: tuple[str, ...]
    #: The start of the flagged text, personal data masked, at most ``EXCERPT_CHARS`` characters.
    excerpt: str
    status: ModerationItemStatus
    created_at: datetime
    #: How many members reported the target (each once).
    report_count: int = 0
    resolution: ModerationAction | None = None
    resolved_at: datetime | None = None
    resolved_by: uuid.UUID | None = None
    resolution_note: str | None = None

    def reported(self) -> ModerationItem:
        """This item with one more member's report."""
        reasons = self.reasons if USER_REPORT_REASON in self.reasons else (*self.reasons, USER_REPORT_REASON)
        return replace(self, reasons=reasons, report_count=self.report_count + 1)

    def resolve(
        self, action: ModerationAction, *, by: uuid.UUID | None, note: str | None, now: datetime
    ) -> ModerationItem:
        if self.status is ModerationItemStatus.RESOLVED:
            raise AlreadyResolved()
        if action is not ModerationAction.DISMISS and not self.kind.is_content:
            raise InvalidResolution(f"a {self.kind.value} item holds no stored content: it can only be dismissed")
        cleaned = " ".join((note or "").split()) or None
        if cleaned is not None and len(cleaned) > MAX_RESOLUTION_NOTE:
            raise InvalidResolution(f"note must be at most {MAX_RESOLUTION_NOTE} characters")
        return replace(
            self,
            status=ModerationItemStatus.RESOLVED,
            resolution=action,
            resolved_at=now,
            resolved_by=by,
            resolution_note=cleaned,
        )


def excerpt_of(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"
