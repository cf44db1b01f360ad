"""The moderation queue: things a scanner or a moderator flagged, for a person to review.

The admin console (another feature) lists and resolves them; this context enqueues them.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

EXCERPT_CHARS = 280


class ModerationItemKind(enum.StrEnum):
    #: A user's chat message (``target_id``: the message).
    MESSAGE = "message"
    #: A model's reply (``target_id``: the message).
    REPLY = "reply"
    #: A grounding passage of the user's knowledge that reads like an injection (``target_id``: its source).
    PASSAGE = "passage"
    #: The input of an AI tool request (``/ai/*``; ``target_id``: an id of its own, nothing is stored).
    TOOL_INPUT = "tool_input"


class ModerationItemStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


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


def excerpt_of(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"
