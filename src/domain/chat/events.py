"""Chat events the user should hear about even when no client was watching."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from src.domain.shared.events import DomainEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyFailed(DomainEvent):
    """A reply ended in an error (the provider failed, timed out, or the server stopped)."""

    user_id: UUID
    conversation_id: UUID
    message_id: UUID
    error_code: str
