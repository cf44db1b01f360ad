"""Ports of the ``llm`` context: one way to talk to every model, and the catalog that describes them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from src.domain.llm.model import ChatRequest, Chunk, Completion, ModelInfo


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
