"""The running summary of a long conversation: what its replies remember of the turns that no longer
fit their context.

A reply is sent the conversation's latest messages that fit its cap (``context.py``). The turns older
than that are folded, a batch at a time, into one running summary by a background job: the previous
summary plus the turns that fell out since it was written go in, a new summary comes out. The
summary rides at the head of every later reply's context, in the system note, so a long conversation
keeps its memory without sending (and paying for) its whole history on every message.

The summary covers every complete message whose ``token_start`` is below ``summary_token_end``.
"""

from __future__ import annotations

from collections.abc import Sequence

from src.domain.ai.offline_tools import extractive_summary
from src.domain.llm.model import MessageRole, PromptMessage

#: The longest summary kept, in words (a model is asked for at most this; longer answers are cut).
MAX_SUMMARY_WORDS = 250
MAX_SUMMARY_CHARS = 4000
#: The summary is brought up to date once at least ``budget // SUMMARY_BATCH_DIVISOR`` tokens have
#: fallen out of the context since the last update: one summary call per batch, never per message.
SUMMARY_BATCH_DIVISOR = 4
#: The most tokens of fallen-out turns one update reads (a conversation whose cap was just lowered
#: catches up over several updates instead of one huge call).
SUMMARY_INPUT_TOKENS = 8000
#: Each turn is cut to this many characters in the transcript given to the model.
SUMMARY_TURN_CHARS = 4000
SUMMARY_NOTE_HEADER = "Summary of the earlier part of this conversation (its older messages are not shown):"
SUMMARY_INSTRUCTIONS = (
    "You keep the running summary of a chat conversation. Given the summary so far (if any) and the "
    f"turns that followed it, write the updated summary in at most {MAX_SUMMARY_WORDS} words: the facts, "
    "names, decisions, preferences and open questions a reader would need to continue the conversation. "
    "Plain prose, no preamble, nothing else."
)


def with_summary(system_prompt: str | None, summary: str | None) -> str | None:
    """The system text a reply is given: the conversation's system prompt, then the summary note."""
    if not summary:
        return system_prompt
    note = f"{SUMMARY_NOTE_HEADER}\n{summary}"
    return f"{system_prompt}\n\n{note}" if system_prompt else note


def summary_due(*, threshold: int, summary_token_end: int, budget: int) -> bool:
    """Whether enough has fallen out of the context (every message with ``token_start`` below
    ``threshold``) since the summary was last updated to update it again."""
    return threshold - summary_token_end >= max(1, budget // SUMMARY_BATCH_DIVISOR)


def summary_transcript(previous: str | None, turns: Sequence[PromptMessage]) -> str:
    """What the summarising model is given: the summary so far, then the turns after it."""
    parts = [f"Summary so far:\n{previous}"] if previous else []
    parts.append("Turns that followed:" if previous else "Turns:")
    for turn in turns:
        speaker = "User" if turn.role is MessageRole.USER else "Assistant"
        parts.append(f"{speaker}: {turn.content[:SUMMARY_TURN_CHARS]}")
    return "\n\n".join(parts)


def clean_summary(raw: str | None) -> str | None:
    """A model's summary as stored: trimmed, at most ``MAX_SUMMARY_WORDS`` words; blank is none."""
    if raw is None:
        return None
    words = raw.split()
    if not words:
        return None
    text = raw.strip() if len(words) <= MAX_SUMMARY_WORDS else " ".join(words[:MAX_SUMMARY_WORDS]) + "…"
    return text[:MAX_SUMMARY_CHARS]


def offline_summary(previous: str | None, turns: Sequence[PromptMessage]) -> str | None:
    """The summary without a model (the offline provider, or a model that failed): deterministic and
    extractive, the most representative sentences of the summary so far and the new turns."""
    text = "\n".join([*([previous] if previous else []), *(t.content[:SUMMARY_TURN_CHARS] for t in turns)])
    return clean_summary(extractive_summary(text, max_words=MAX_SUMMARY_WORDS, bullets=False))
