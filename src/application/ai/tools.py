"""What the AI tools share (``summarize``, ``classify``, ``moderate``, ``generate``; ``list_templates``
and ``get_tool_stats`` beside them): the input check and the bills.

Each asks the chosen model (the default one when none is named) through ``ToolRunner``. The offline
model answers them itself, deterministically (``domain/ai/offline_tools.py``), so the embedded
default works with no key. Moderation prefers a dedicated endpoint (OpenAI's, when a key is set),
then a model prompt, then the offline rules; ``source`` says which answered.
"""

from __future__ import annotations

from src.application.ai.runner import Bill
from src.domain.ai.errors import InvalidToolInput
from src.domain.llm.model import Completion, ModelInfo, Usage, estimate_tokens


def checked_text(text: str, limit: int) -> str:
    text = text.strip()
    if not text:
        raise InvalidToolInput("text is empty")
    if len(text) > limit:
        raise InvalidToolInput(f"text is longer than {limit:,} characters", extra={"max_chars": limit})
    return text


def offline_bill(model: ModelInfo, prompt: str, answer: str) -> Bill:
    """The offline model's honest count: the words it read and wrote."""
    usage = Usage(estimate_tokens(prompt), estimate_tokens(answer), estimated=True)
    return Bill(model.id, model.provider, usage)


def bill_of(completion: Completion) -> Bill:
    return Bill(completion.model_id, completion.provider).add(completion)
