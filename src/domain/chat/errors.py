"""Chat errors, each with a stable code the front doors translate (HTTP status, WebSocket frame, CLI exit)."""

from __future__ import annotations

from src.domain.shared.errors import Conflict, DomainError, InvalidInput, NotFound


class ConversationNotFound(NotFound):
    """No such conversation, or it is someone else's: the two are never told apart."""

    code = "conversation_not_found"
    title = "Conversation not found"


class MessageNotFound(NotFound):
    code = "message_not_found"
    title = "Message not found"


class ReplyInProgress(Conflict):
    """One reply at a time per conversation; ``extra["message_id"]`` names the one generating."""

    code = "reply_in_progress"
    title = "A reply is already being generated in this conversation"


class ReplyNotInProgress(Conflict):
    code = "reply_not_in_progress"
    title = "This message is not being generated"


class NotLatestMessage(Conflict):
    """Regenerating answers the latest exchange only."""

    code = "not_latest_message"
    title = "Only the latest reply can be regenerated"


class EmptyMessage(InvalidInput):
    code = "message_empty"
    title = "The message is empty"


class MessageTooLong(InvalidInput):
    code = "message_too_long"
    title = "The message is too long"


class ContextWindowExceeded(InvalidInput):
    """The system prompt and the new message alone do not fit the model's context window."""

    code = "context_window_exceeded"
    title = "The message does not fit the model's context window"


class InvalidConversation(InvalidInput):
    """A title, system prompt, temperature or grounding outside its limits."""

    code = "invalid_conversation"
    title = "Invalid conversation settings"


class InvalidEventId(InvalidInput):
    code = "invalid_event_id"
    title = "Invalid Last-Event-ID"


class InvalidExportFormat(InvalidInput):
    code = "invalid_export_format"
    title = "Unknown export format"


class AiRequestsRateLimited(DomainError):
    """Too many AI requests (sends, regenerations) for the user's tier; ``extra["retry_after"]`` in seconds."""

    code = "rate_limited"
    kind = "rate_limited"
    title = "Too many requests"


class ReplyInterruptedByShutdown(DomainError):
    """The server began shutting down while a client waited for a whole reply: what was written is
    stored (as interrupted) and the client is answered at once instead of being cut off."""

    code = "interrupted"
    kind = "unavailable"
    title = "The reply was interrupted: the server is shutting down"
