"""Context-window trimming: which messages a model is given.

A model gets the system prompt and as many of the latest messages as fit its context window minus
its maximum output; older ones are left out. Every message carries its estimated token count and
the running total before it (``token_start``), so the messages that fit are exactly those whose
``token_start`` is at least ``context_threshold(...)``: a range the database reads from an index,
never the whole history.

Besides the model's window, every reply's history is held to a cap (``CHAT_CONTEXT_TOKENS``, or the
conversation's own ``context_tokens``): a long conversation is not sent whole on every message. The
turns beyond the cap are remembered through the running summary (``summary.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from src.domain.chat.errors import ContextWindowExceeded, InvalidConversation
from src.domain.llm.model import MESSAGE_OVERHEAD_TOKENS, MessageRole, PromptMessage, estimate_tokens


def message_tokens(content: str) -> int:
    """The estimated cost of one message in a prompt, role markers included (never below 1)."""
    return estimate_tokens(content) + MESSAGE_OVERHEAD_TOKENS


def history_budget(*, context_window: int, max_output_tokens: int, system_prompt: str | None) -> int:
    """Tokens left for the messages once the system prompt and the answer are provided for."""
    system = message_tokens(system_prompt) if system_prompt else 0
    return context_window - max_output_tokens - system


def context_budget(*, context_window: int, max_output_tokens: int, system_prompt: str | None, cap: int | None) -> int:
    """Tokens a reply's history may use: the model's room (``history_budget``), held to ``cap``."""
    budget = history_budget(
        context_window=context_window, max_output_tokens=max_output_tokens, system_prompt=system_prompt
    )
    return budget if cap is None else min(budget, cap)


def check_context_tokens(value: int | None, *, context_window: int) -> int | None:
    """A conversation's own cap: a positive number of tokens within its model's window (``None``:
    the deployment's ``CHAT_CONTEXT_TOKENS``)."""
    if value is None:
        return None
    if isinstance(value, bool) or not 1 <= value <= context_window:
        raise InvalidConversation(
            f"context_tokens must be between 1 and {context_window} (the model's context window)",
            extra={"max_context_tokens": context_window},
        )
    return value


def check_fits(new_message_tokens: int, *, budget: int) -> None:
    """A new message that does not fit alone can never be answered: refuse it before storing it."""
    if new_message_tokens > budget:
        raise ContextWindowExceeded(
            f"the message is about {new_message_tokens} tokens and the model has room for {max(budget, 0)} "
            "(its context window, less its maximum answer and the system prompt)",
            extra={"estimated_tokens": new_message_tokens, "available_tokens": max(budget, 0)},
        )


def context_threshold(*, token_total: int, budget: int) -> int:
    """The smallest ``token_start`` a message may have to be in the context.

    A message fits when it and every message after it add up to at most ``budget``:
    ``token_total - token_start <= budget``.
    """
    return token_total - budget


def context_start(*, token_total: int, budget: int, latest_start: int, summary_token_end: int = 0) -> int:
    """The smallest ``token_start`` read into a reply's context: the messages that fit ``budget``,
    never fewer than the latest one (``latest_start``: the message being answered, kept even when
    it alone exceeds a small cap), and none the running summary already covers."""
    return min(max(context_threshold(token_total=token_total, budget=budget), summary_token_end), latest_start)


def trim_to_context_window(
    system_prompt: str | None,
    history: Sequence[PromptMessage],
    *,
    context_window: int,
    max_output_tokens: int,
) -> tuple[PromptMessage, ...]:
    """The prompt for a model: the system prompt, then the latest of ``history`` (oldest first) that fit.

    The kept history never starts with an assistant message (several providers require the
    conversation to open with the user), and the latest message is always kept when it fits alone.
    """
    budget = history_budget(
        context_window=context_window, max_output_tokens=max_output_tokens, system_prompt=system_prompt
    )
    kept: list[PromptMessage] = []
    used = 0
    for message in reversed(history):
        cost = message.estimated_tokens
        if used + cost > budget:
            break
        kept.append(message)
        used += cost
    kept.reverse()
    while kept and kept[0].role is MessageRole.ASSISTANT:
        kept.pop(0)
    system: Iterable[PromptMessage] = (PromptMessage(MessageRole.SYSTEM, system_prompt),) if system_prompt else ()
    return (*system, *kept)
