"""GetToolStats: how often each tool succeeded, failed or was answered from the cache (analytics:read)."""

from __future__ import annotations

from dataclasses import dataclass

from src.application.ai.runner import ToolRunner
from src.domain.identity.model import Permission, Principal
from src.domain.shared.errors import PermissionDenied


class GetToolStats:
    def __init__(self, runner: ToolRunner) -> None:
        self._runner = runner

    def __call__(self, principal: Principal) -> list[ToolStat]:
        if not principal.can(Permission.ANALYTICS_READ):
            raise PermissionDenied(f"This needs the {Permission.ANALYTICS_READ.value} permission")
        counts = self._runner.metrics.snapshot()
        return [
            ToolStat(
                tool,
                counts.get(tool, {}).get("success", 0),
                counts.get(tool, {}).get("failure", 0),
                counts.get(tool, {}).get("cache_hit", 0),
            )
            for tool in TOOLS
        ]


@dataclass(frozen=True, slots=True)
class ToolStat:
    tool: str
    success: int
    failure: int
    cache_hit: int


TOOLS = ("summarize", "classify", "moderate", "generate")
