"""Chat: messages, the history a reply is given, grounding, reply streams and the WebSocket chat."""

from __future__ import annotations

from dataclasses import dataclass

from src.application.chat.settings import ReplySettings
from src.domain.chat.defaults import (
    DEFAULT_CONTEXT_TOKENS,
    DEFAULT_EXCERPT_CHARS,
    DEFAULT_MAX_MESSAGE_CHARS,
    DEFAULT_PASSAGES,
    MAX_EXCERPT_CHARS,
    MAX_PASSAGES,
    MIN_CONTEXT_TOKENS,
    MIN_EXCERPT_CHARS,
)
from src.infrastructure.settings.reading import var

#: The use cases' own defaults, which these variables override.
_REPLY = ReplySettings()


@dataclass(frozen=True, slots=True)
class ChatSettings:
    max_message_chars: int = var("MAX_MESSAGE_CHARS", DEFAULT_MAX_MESSAGE_CHARS, minimum=1, maximum=1_000_000)
    context_tokens: int = var(
        "CHAT_CONTEXT_TOKENS", DEFAULT_CONTEXT_TOKENS, minimum=MIN_CONTEXT_TOKENS, maximum=10_000_000
    )
    context_summary: bool = var("CHAT_CONTEXT_SUMMARY", _REPLY.summarize)
    reply_stream_ttl_seconds: float = var("REPLY_STREAM_TTL_SECONDS", 120.0, minimum=1.0)
    reply_flush_interval_ms: int = var(
        "REPLY_FLUSH_INTERVAL_MS", round(_REPLY.flush_interval_seconds * 1000), minimum=10, maximum=60_000
    )
    reply_lease_seconds: float = var("REPLY_LEASE_SECONDS", _REPLY.lease_seconds, minimum=2.0)
    reply_timeout_seconds: float = var("REPLY_TIMEOUT_SECONDS", _REPLY.timeout_seconds, minimum=1.0)
    sse_heartbeat_seconds: float = var("SSE_HEARTBEAT_SECONDS", 15.0, minimum=0.1)
    grounding_passages: int = var("GROUNDING_PASSAGES", DEFAULT_PASSAGES, minimum=1, maximum=MAX_PASSAGES)
    grounding_excerpt_chars: int = var(
        "GROUNDING_EXCERPT_CHARS", DEFAULT_EXCERPT_CHARS, minimum=MIN_EXCERPT_CHARS, maximum=MAX_EXCERPT_CHARS
    )
    ws_max_connections_per_user: int = var("WS_MAX_CONNECTIONS_PER_USER", 10, minimum=1)
    ws_auth_timeout_seconds: float = var("WS_AUTH_TIMEOUT_SECONDS", 5.0, minimum=0.1)
    ws_send_queue_frames: int = var("WS_SEND_QUEUE_FRAMES", 512, minimum=16)
