"""Ports of the ``llm`` context: one way to talk to every model, and the catalog that describes them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from src.domain.llm.model import ChatRequest, Chunk, Completion, ModelInfo, Usage


class ChatModel(Protocol):
    """Any model of any provider, chosen by ``request.model`` (``provider/model``).

    ``stream`` yields ``TextDelta`` items and ends with exactly one ``StreamEnd``. Before the first
    delta, failures are retried and fall back along the configured chain; when nothing could answer,
    the last ``ProviderError`` (or ``UnknownModel``) is raised and nothing was yielded. After the
    first delta, a failure ends the stream with a ``StreamEnd`` whose ``finish_reason`` is ``error``.
    Closing the iterator early (``aclose()``, or cancelling the task reading it) cancels the upstream
    request at once; no ``StreamEnd`` follows, and the caller estimates the usage of what it read
    (``estimate_usage``).
    """

    def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]: ...

    async def complete(self, request: ChatRequest) -> Completion:
        """The whole answer at once; raises ``ProviderError`` when no model could answer."""
        ...


class ModelCatalog(Protocol):
    """The models Parley knows (from the catalog file) and which of them can answer now."""

    @property
    def default_model(self) -> str: ...

    def models(self) -> Sequence[ModelInfo]:
        """Every catalog model, available or not, in catalog order."""
        ...

    def get(self, model_id: str) -> ModelInfo | None: ...

    def is_available(self, model_id: str) -> bool:
        """Whether the model's provider is configured (its key is set)."""
        ...

    def resolve(self, model_id: str | None) -> ModelInfo:
        """The catalog entry for ``model_id`` (the default model when ``None``); raises
        ``UnknownModel`` (listing the available models in ``extra["available"]``) when it is
        unknown or its provider is not configured."""
        ...


class ProviderBreakers(Protocol):
    """A circuit breaker per model (the key is the model id, ``provider/model``), shared by every
    instance when it can be.

    The router asks ``allow`` before each call, and reports how the call went: ``record_success``
    (the provider answered, even with a refusal of the request), ``record_failure`` (the provider
    failed: ``ProviderError.provider_fault``), or ``release`` (the call ended with no verdict, e.g.
    its caller went away). No method raises: a breaker that cannot reach its shared state decides
    for this process alone.
    """

    async def allow(self, provider: str) -> bool: ...

    async def record_success(self, provider: str) -> None: ...

    async def record_failure(self, provider: str) -> None: ...

    async def release(self, provider: str) -> None: ...


class LlmMetrics(Protocol):
    """What the router reports about model calls (exported as metrics; never message text)."""

    def attempt_finished(
        self,
        provider: str,
        model: str,
        outcome: str,
        *,
        duration_s: float | None = None,
        ttft_s: float | None = None,
    ) -> None:
        """One upstream attempt ended: ``outcome`` is ``ok``, ``cancelled``, ``interrupted`` (failed
        after its first delta), ``breaker_open`` (not attempted), or the ``ProviderError`` code."""
        ...

    def tokens_used(self, provider: str, model: str, usage: Usage, cost_micros: int) -> None:
        """Tokens an answer used (estimated ones too) and what they cost, in micro-dollars."""
        ...
