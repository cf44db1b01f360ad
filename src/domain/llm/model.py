"""What Parley asks of a language model and what comes back, whichever provider answers.

A model is named ``provider/model`` (``openai/gpt-4.1-mini``, ``offline/echo``). A streamed answer is
a run of ``TextDelta`` items followed by exactly one ``StreamEnd``. Money is integer micro-dollars.
"""

from __future__ import annotations

import enum
import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from src.domain.llm.errors import UnknownModel


class MessageRole(enum.StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class FinishReason(enum.StrEnum):
    STOP = "stop"
    LENGTH = "length"
    CONTENT_FILTER = "content_filter"
    CANCELLED = "cancelled"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ModelId:
    provider: str
    name: str

    @classmethod
    def parse(cls, value: str) -> ModelId:
        """``openai/gpt-4.1-mini`` -> ModelId("openai", "gpt-4.1-mini"); the model part may hold slashes."""
        provider, sep, name = value.strip().partition("/")
        if not sep or not provider or not name:
            raise UnknownModel(f"model ids are written provider/model, not {value!r}", extra={"model": value})
        return cls(provider.lower(), name)

    def __str__(self) -> str:
        return f"{self.provider}/{self.name}"


@dataclass(frozen=True, slots=True)
class PromptMessage:
    role: MessageRole
    content: str
    #: Its estimated cost in a prompt (``estimate_tokens`` plus the role markers) when already known,
    #: e.g. stored with the message; ``None``: estimated from ``content`` when needed.
    tokens: int | None = field(default=None, compare=False)

    @property
    def estimated_tokens(self) -> int:
        """The estimated cost of this message in a prompt, role markers included."""
        return self.tokens if self.tokens is not None else estimate_tokens(self.content) + MESSAGE_OVERHEAD_TOKENS


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One call to a model.

    ``deadline`` is a ``Clock.monotonic()`` value: retries and fallbacks never start after it, and
    the call is cut when it passes. ``None`` leaves only the configured timeouts.
    """

    messages: tuple[PromptMessage, ...]
    model: str
    temperature: float | None = None
    max_output_tokens: int | None = None
    stop: tuple[str, ...] = ()
    deadline: float | None = None
    #: Sampling and output options passed through to providers that take them (the OpenAI-compatible
    #: gateway forwards them); ``response_format`` is OpenAI's object (``{"type": "json_object"}``).
    top_p: float | None = None
    seed: int | None = None
    response_format: Mapping[str, Any] | None = field(default=None, hash=False)

    @property
    def model_id(self) -> ModelId:
        return ModelId.parse(self.model)

    @property
    def system_prompt(self) -> str | None:
        """The system messages joined, for providers that take the system prompt apart."""
        parts = [m.content for m in self.messages if m.role is MessageRole.SYSTEM]
        return "\n\n".join(parts) if parts else None

    @property
    def conversation(self) -> tuple[PromptMessage, ...]:
        """The user and assistant messages, in order."""
        return tuple(m for m in self.messages if m.role is not MessageRole.SYSTEM)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one answer. ``estimated`` when the provider reported none and Parley counted."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The last item of every stream.

    ``error_code``/``error_detail`` are set when ``finish_reason`` is ``error``: the provider failed
    after text had already been sent, and the text so far stands.
    """

    finish_reason: FinishReason
    usage: Usage
    provider: str
    model: str
    latency_ms: int
    ttft_ms: int | None = None
    error_code: str | None = None
    error_detail: str | None = None

    @property
    def model_id(self) -> str:
        return f"{self.provider}/{self.model}"


Chunk = TextDelta | StreamEnd


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    finish_reason: FinishReason
    usage: Usage
    provider: str
    model: str
    latency_ms: int
    ttft_ms: int | None = None

    @property
    def model_id(self) -> str:
        return f"{self.provider}/{self.model}"


@dataclass(frozen=True, slots=True)
class ModelPricing:
    """Micro-dollars per million tokens (a price of $0.40 per million is 400_000)."""

    input_per_million: int = 0
    output_per_million: int = 0
    cached_input_per_million: int | None = None

    def cost_micros(self, usage: Usage) -> int:
        """The cost of ``usage`` in micro-dollars, rounded up (a call is never free when it cost something).

        Cached input tokens are part of the input tokens and are billed at the cached price when
        the catalog gives one.
        """
        cached = min(usage.cached_tokens, usage.input_tokens)
        cached_price = self.cached_input_per_million
        if cached_price is None:
            cached_price = self.input_per_million
        fresh = usage.input_tokens - cached
        total = fresh * self.input_per_million + cached * cached_price + usage.output_tokens * self.output_per_million
        return -(-total // 1_000_000)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One entry of the model catalog (prices and limits are data, not code)."""

    id: str
    display_name: str
    context_window: int
    max_output_tokens: int
    pricing: ModelPricing = ModelPricing()
    capabilities: frozenset[str] = field(default_factory=frozenset)

    @property
    def provider(self) -> str:
        return ModelId.parse(self.id).provider

    @property
    def name(self) -> str:
        return ModelId.parse(self.id).name


# -- estimates ---------------------------------------------------------------------------------

_WORDS = re.compile(r"\w+|[^\w\s]", re.UNICODE)
#: Per-message overhead of chat formats (role markers and separators), as OpenAI documents it.
MESSAGE_OVERHEAD_TOKENS = 4


#: Texts at least this long have their estimate remembered (``_estimate_long``).
_REMEMBERED_FROM_CHARS = 2048


def estimate_tokens(text: str) -> int:
    """A conservative token estimate for text no provider counted.

    BPE tokenisers average about four characters a token on English and never fewer tokens than
    words and punctuation marks; take the larger of the two so an estimate errs high, not low.
    Counting the words costs ~70 us a kilobyte: the estimate of a long text is remembered, so that
    one that comes back (a conversation's running summary, on every reply and several times in each)
    is counted once.
    """
    if not text:
        return 0
    if len(text) >= _REMEMBERED_FROM_CHARS:
        return _estimate_long(text)
    return _estimate(text)


def _estimate(text: str) -> int:
    return max(math.ceil(len(text) / 4), len(_WORDS.findall(text)))


_estimate_long = functools.lru_cache(maxsize=64)(_estimate)


def estimate_prompt_tokens(messages: Iterable[PromptMessage]) -> int:
    return sum(m.estimated_tokens for m in messages)


def estimate_usage(messages: Sequence[PromptMessage], output_text: str) -> Usage:
    """Usage for an answer the provider never reported on (interrupted, or no usage sent)."""
    return Usage(
        input_tokens=estimate_prompt_tokens(messages),
        output_tokens=estimate_tokens(output_text),
        estimated=True,
    )


# -- names -------------------------------------------------------------------------------------


def short_aliases(model_ids: Iterable[str]) -> dict[str, str]:
    """``{"gpt-4.1-mini": "openai/gpt-4.1-mini", ...}``: each model's name without its provider,
    for the names only one provider's model carries (an ambiguous short name is no alias)."""
    owners: dict[str, list[str]] = {}
    for model_id in model_ids:
        owners.setdefault(ModelId.parse(model_id).name, []).append(model_id)
    return {name: ids[0] for name, ids in owners.items() if len(ids) == 1}
