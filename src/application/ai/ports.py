"""Ports of the ``ai`` context."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from src.domain.ai.model import ModerationVerdict, ToolTemplate
from src.domain.ai.moderation_queue import ModerationItem
from src.domain.ai.pii import PiiMatch


class PiiRecognizer(Protocol):
    """Finds one kind of personal data that needs a library to validate (phone numbers, national ids)."""

    def find(self, text: str) -> Iterable[PiiMatch]: ...


class ModerationService(Protocol):
    """A dedicated moderation endpoint (OpenAI's ``/moderations``); raises ``ProviderError`` on failure."""

    async def moderate(self, text: str) -> ModerationVerdict: ...


class TemplateCatalog(Protocol):
    """The generation templates, read from files in the repository."""

    def templates(self) -> Sequence[ToolTemplate]: ...

    def get(self, name: str) -> ToolTemplate | None: ...


class ToolMetrics(Protocol):
    """Counts per tool: ``outcome`` is ``success``, ``failure`` or ``cache_hit``."""

    def tool_finished(self, tool: str, outcome: str) -> None: ...

    def snapshot(self) -> dict[str, dict[str, int]]:
        """tool -> outcome -> count, since this process started."""
        ...


class ModerationQueue(Protocol):
    """Where flagged items wait for review (one short transaction of its own per item)."""

    async def enqueue(self, item: ModerationItem) -> None: ...

    async def enqueue_once(self, item: ModerationItem) -> bool:
        """Enqueue ``item`` unless an item of its kind about its target was ever queued (open or
        resolved); whether it was."""
        ...

    async def list_open(self, limit: int = 50) -> Sequence[ModerationItem]: ...
