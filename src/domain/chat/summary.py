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

import functools
from collections.abc import Sequence

from src.domain.ai.offline_tools import extractive_summary
from src.domain.chat.context import message_tokens
from src.domain.llm.model import MESSAGE_OVERHEAD_TOKENS, MessageRole, PromptMessage

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
#: The share of a conversation's context cap its summary may take: at most a quarter, so the note
#: never crowds out the latest turns (a reply leaves out a summary longer than half its room).
SUMMARY_CAP_SHARE = 4


def summary_token_limit(cap: int) -> int:
    """The most tokens a summary for a conversation capped at ``cap`` tokens may take (never above
    what ``MAX_SUMMARY_WORDS`` would, never below one word's worth)."""
    return max(1 + MESSAGE_OVERHEAD_TOKENS, min(cap // SUMMARY_CAP_SHARE, MAX_SUMMARY_WORDS * 2))


def summary_word_limit(max_tokens: int) -> int:
    """The words a summary of at most ``max_tokens`` tokens is asked for (about three words in four
    tokens), at most ``MAX_SUMMARY_WORDS``."""
    return max(1, min(MAX_SUMMARY_WORDS, (max_tokens - MESSAGE_OVERHEAD_TOKENS) * 3 // 4))


def summary_instructions(max_words: int = MAX_SUMMARY_WORDS) -> str:
    """What the summarising model is told, with the length its summary must keep to."""
    return (
        "You keep the running summary of a chat conversation. Given the summary so far (if any) and the "
        f"turns that followed it, write the updated summary in at most {max_words} words: the facts, "
        "names, decisions, preferences and open questions a reader would need to continue the conversation. "
        "Plain prose, no preamble, nothing else."
    )


def with_summary(system_prompt: str | None, summary: str | None) -> str | None:
    """The system text a reply is given: the conversation's system prompt, then the summary note."""
    if not summary:
        return system_prompt
    return _with_note(system_prompt, summary)


@functools.lru_cache(maxsize=64)
def _with_note(system_prompt: str | None, summary: str) -> str:
    """Remembered: a reply asks for its system text several times (its budget, its context's start, its
    prompt), and each is a ~16 KB string whose token estimate is looked up by value. The same string
    object again is found at once (its hash is kept, and equal by identity); a new one was hashed and
    compared in full every time, ~20 us a call with a long summary."""
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


def clean_summary(raw: str | None, max_tokens: int | None = None) -> str | None:
    """A model's summary as stored: trimmed, at most ``MAX_SUMMARY_WORDS`` words and, given
    ``max_tokens``, cut to fit that many tokens (``message_tokens``); blank is none."""
    if raw is None:
        return None
    words = raw.split()
    if not words:
        return None
    text = raw.strip() if len(words) <= MAX_SUMMARY_WORDS else _cut(words, MAX_SUMMARY_WORDS)
    text = text[:MAX_SUMMARY_CHARS]
    if max_tokens is None or message_tokens(text) <= max_tokens:
        return text
    # The longest prefix of words that fits, found by bisection (the estimate grows with the prefix).
    words = text.split()
    low, high = 1, len(words) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if message_tokens(_cut(words, middle)) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    return _cut(words, low)


def _cut(words: Sequence[str], count: int) -> str:
    return " ".join(words[:count]) + "…"


def offline_summary(previous: str | None, turns: Sequence[PromptMessage], max_tokens: int | None = None) -> str | None:
    """The summary without a model (the offline provider, or a model that failed): deterministic and
    extractive, the most representative sentences of the summary so far and the new turns, within
    ``max_tokens`` when given."""
    text = "\n".join([*([previous] if previous else []), *(t.content[:SUMMARY_TURN_CHARS] for t in turns)])
    words = MAX_SUMMARY_WORDS if max_tokens is None else summary_word_limit(max_tokens)
    return clean_summary(extractive_summary(text, max_words=words, bullets=False), max_tokens)
