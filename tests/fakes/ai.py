"""In-memory fakes of the ``ai`` context's ports, for use-case tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any, TypeVar

import msgspec

from src.domain.ai.model import ModerationVerdict
from src.domain.ai.moderation_queue import ModerationItem, ModerationItemStatus
from src.domain.llm.errors import ProviderError

T = TypeVar("T")


class InMemoryModerationQueue:
    def __init__(self) -> None:
        self.items: list[ModerationItem] = []

    async def enqueue(self, item: ModerationItem) -> None:
        await asyncio.sleep(0)
        self.items.append(item)

    async def enqueue_once(self, item: ModerationItem) -> bool:
        await asyncio.sleep(0)
        if any(i.kind == item.kind and i.target_id == item.target_id for i in self.items):
            return False
        self.items.append(item)
        return True

    async def list_open(self, limit: int = 50) -> Sequence[ModerationItem]:
        return [i for i in self.items if i.status is ModerationItemStatus.OPEN][:limit]


class RecordingToolMetrics:
    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = {}

    def tool_finished(self, tool: str, outcome: str) -> None:
        per_tool = self.counts.setdefault(tool, {})
        per_tool[outcome] = per_tool.get(outcome, 0) + 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {tool: dict(outcomes) for tool, outcomes in self.counts.items()}


class JsonAnswerDecoder:
    """``AnswerDecoder``: the answer must be exactly one JSON object of ``type_`` (no code fences)."""

    def decode(self, text: str, type_: type[T]) -> T:
        try:
            raw: Any = json.loads(text)
            return msgspec.convert(raw, type_)
        except (json.JSONDecodeError, msgspec.ValidationError) as exc:
            raise ValueError(str(exc)) from exc


class FakeModerationService:
    """``ModerationService`` answering ``verdict``, or failing with ``error`` when one is given."""

    def __init__(self, verdict: ModerationVerdict | None = None, error: ProviderError | None = None) -> None:
        self.verdict = verdict
        self.error = error
        self.calls: list[str] = []

    async def moderate(self, text: str) -> ModerationVerdict:
        self.calls.append(text)
        await asyncio.sleep(0)
        if self.error is not None or self.verdict is None:
            raise self.error or ProviderError("no verdict scripted")
        return self.verdict
