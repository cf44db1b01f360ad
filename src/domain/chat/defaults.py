"""The chat context's defaults and bounds that settings read: constants only, so that loading the
settings (every command of the CLI does) does not load the context window and grounding code."""

from __future__ import annotations

#: The default of ``MAX_MESSAGE_CHARS``.
DEFAULT_MAX_MESSAGE_CHARS = 32_000

#: The default of ``CHAT_CONTEXT_TOKENS``: the history a reply sends when neither the deployment nor
#: the conversation says otherwise. Far below the 128k-1M windows of today's models on purpose.
DEFAULT_CONTEXT_TOKENS = 16_000
#: The smallest ``CHAT_CONTEXT_TOKENS`` a deployment may set (a conversation may go lower).
MIN_CONTEXT_TOKENS = 256

#: ``GROUNDING_PASSAGES`` and ``GROUNDING_EXCERPT_CHARS``: their defaults and bounds.
DEFAULT_PASSAGES = 5
DEFAULT_EXCERPT_CHARS = 600
MAX_PASSAGES = 20
MIN_EXCERPT_CHARS = 100
MAX_EXCERPT_CHARS = 4000
