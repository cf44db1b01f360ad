"""The knobs of chat replies, taken from settings by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from src.domain.chat.defaults import DEFAULT_CONTEXT_TOKENS, DEFAULT_MAX_MESSAGE_CHARS, DEFAULT_PASSAGES


@dataclass(frozen=True, slots=True)
class ReplySettings:
    #: ``MAX_MESSAGE_CHARS``: longer user messages are refused (422).
    max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS
    #: ``REPLY_LEASE_SECONDS``: how long a conversation's reply lock lasts without renewal; an
    #: instance that died mid-reply frees the conversation after this.
    lease_seconds: float = 30.0
    #: ``REPLY_FLUSH_INTERVAL_MS`` / 1000: how often a reply's text so far is written to its row.
    flush_interval_seconds: float = 0.5
    #: ``REPLY_TIMEOUT_SECONDS``: a reply still going after this ends with ``error`` (``reply_timeout``).
    timeout_seconds: float = 600.0
    #: How long a reader waits for a reply stream it cannot see yet before it looks at the database.
    stream_idle_timeout_seconds: float = 5.0
    #: A reader that heard nothing for this long looks at the reply's row: is its writer alive?
    watch_seconds: float = 2.0
    #: ``GROUNDING_PASSAGES``: the most passages a grounded reply is given (top K of the retrieval).
    grounding_passages: int = DEFAULT_PASSAGES
    #: ``CHAT_CONTEXT_TOKENS``: the most history a reply sends, unless its conversation says otherwise.
    context_tokens: int = DEFAULT_CONTEXT_TOKENS
    #: ``CHAT_CONTEXT_SUMMARY``: the turns beyond the cap are folded into a running summary.
    summarize: bool = True
