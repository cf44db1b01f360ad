"""How Parley retries a model and falls back to the next: pure policy (time and chance are passed in).

A fallback chain is written ``openai/gpt-4.1-mini -> groq/llama-3.3-70b-versatile -> gemini/gemini-2.5-flash``;
several are separated by ``;``. A request for the first model of a chain that cannot be answered (its
retries spent before the first delta) goes to the next model of that chain, and so on.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from src.domain.llm.errors import UnknownModel
from src.domain.llm.model import ModelId

CHAIN_SEPARATOR = ";"
ARROW = "->"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_retries`` retries after the first attempt, waiting ``base_delay * 2**n`` (at most
    ``max_delay``) with equal jitter: half the wait is fixed, half random, so instances that failed
    together do not retry in step. A provider's ``retry_after`` is a floor, never shortened."""

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError("retries and delays must be non-negative, max_delay at least base_delay")

    def delay(self, retry: int, *, retry_after: float | None, jitter: float) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first retry); ``jitter`` in [0, 1)."""
        backoff = min(self.max_delay, self.base_delay * 2.0**retry)
        wait = backoff / 2 + backoff / 2 * jitter
        if retry_after is not None and retry_after > wait:
            wait = retry_after
        return wait


@dataclass(frozen=True, slots=True)
class FallbackChains:
    """Fallback chains from configuration; each model starts at most one chain."""

    chains: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def parse(cls, text: str) -> FallbackChains:
        """``a -> b -> c; d -> e``; raises ``ValueError`` saying what is wrong."""
        chains: list[tuple[str, ...]] = []
        heads: set[str] = set()
        for raw_chain in text.replace("\n", CHAIN_SEPARATOR).split(CHAIN_SEPARATOR):
            if not raw_chain.strip():
                continue
            models: list[str] = []
            for raw_model in raw_chain.split(ARROW):
                name = raw_model.strip()
                if not name:
                    raise ValueError(f"has an empty model name in {raw_chain.strip()!r}")
                try:
                    model = str(ModelId.parse(name))
                except UnknownModel:
                    raise ValueError(f"has {name!r}, which is not a provider/model id") from None
                if model in models:
                    raise ValueError(f"names {model} twice in one chain")
                models.append(model)
            if len(models) < 2:
                raise ValueError(f"has a chain with one model ({models[0]}); write primary -> fallback [-> ...]")
            if models[0] in heads:
                raise ValueError(f"starts two chains with {models[0]}")
            heads.add(models[0])
            chains.append(tuple(models))
        return cls(tuple(chains))

    def fallbacks_for(self, model: str) -> tuple[str, ...]:
        """The models to try, in order, after ``model``; empty when no chain starts with it."""
        for chain in self.chains:
            if chain[0] == model:
                return chain[1:]
        return ()

    def model_ids(self) -> list[str]:
        """Every model named by a chain, each once, in order of appearance."""
        seen: dict[str, None] = {}
        for chain in self.chains:
            seen.update(dict.fromkeys(chain))
        return list(seen)

    def __str__(self) -> str:
        return "; ".join(f" {ARROW} ".join(chain) for chain in self.chains)


class CircuitPosition(enum.StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


#: Defaults of the breaker policy (settings override them).
DEFAULT_BREAKER_FAILURE_RATE = 0.5
DEFAULT_BREAKER_WINDOW = 60.0


@dataclass(slots=True)
class ProviderCircuit:
    """A circuit breaker's state for one model of a provider (times are ``Clock.monotonic()`` seconds).

    Closed: calls go through, and how they ended is counted in a window of ``window`` seconds (a
    fixed window, started by its first call). When at least ``min_calls`` calls ended in the window
    and at least ``failure_rate`` of them failed, it opens: calls are refused for ``reset_after``
    seconds. A few failures among many successes never open it, and neither does one unlucky pair.
    Then it is half-open: the next real call waiting goes through as the probe (another only when the
    probe has said nothing for ``reset_after`` seconds, e.g. its caller vanished); the probe's
    success closes the circuit with a fresh window, its failure opens it again for ``reset_after``.
    """

    min_calls: int
    reset_after: float
    failure_rate: float = DEFAULT_BREAKER_FAILURE_RATE
    window: float = DEFAULT_BREAKER_WINDOW
    calls: int = 0
    failures: int = 0
    window_started_at: float | None = None
    opened_at: float | None = None
    probe_started_at: float | None = None

    def position(self, now: float) -> CircuitPosition:
        if self.opened_at is None:
            return CircuitPosition.CLOSED
        if now - self.opened_at >= self.reset_after:
            return CircuitPosition.HALF_OPEN
        return CircuitPosition.OPEN

    def allow(self, now: float) -> bool:
        position = self.position(now)
        if position is CircuitPosition.CLOSED:
            return True
        if position is CircuitPosition.OPEN:
            return False
        if self.probe_started_at is not None and now - self.probe_started_at < self.reset_after:
            return False
        self.probe_started_at = now
        return True

    def record_success(self, now: float) -> None:
        self.probe_started_at = None
        if self.opened_at is not None:  # the probe answered: closed, counting afresh
            self.opened_at = None
            self._start_window(now)
        self._count(now, failed=False)

    def record_failure(self, now: float) -> None:
        self.probe_started_at = None
        if self.opened_at is not None:  # the probe failed: open for another period
            self.opened_at = now
            return
        self._count(now, failed=True)
        if self.calls >= self.min_calls and self.failures >= self.failure_rate * self.calls:
            self.opened_at = now

    def release(self) -> None:
        """A call that ended with no verdict (its caller went away): let the next probe through."""
        self.probe_started_at = None

    def _count(self, now: float, *, failed: bool) -> None:
        if self.window_started_at is None or now - self.window_started_at >= self.window:
            self._start_window(now)
        self.calls += 1
        self.failures += int(failed)

    def _start_window(self, now: float) -> None:
        self.window_started_at = now
        self.calls = 0
        self.failures = 0
