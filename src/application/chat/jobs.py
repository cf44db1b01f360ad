"""The names of the chat context's background jobs, which its use cases queue through the outbox."""

from __future__ import annotations

#: A conversation's title, after its first reply (``TitleConversation``).
TITLE_JOB = "title_conversation"
#: The running summary of the turns a reply no longer sends (``SummarizeConversation``).
SUMMARY_JOB = "summarize_conversation"
