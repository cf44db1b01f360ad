"""GCRA (generic cell rate algorithm): the arithmetic both rate-limiter adapters share.

A key holds one number, its *theoretical arrival time* (TAT): the moment at which the key would be
back to its full allowance. Each allowed hit pushes the TAT ``cost * interval`` further; a hit is
allowed while the TAT stays within ``burst`` of now. So ``limit`` hits may arrive at once, and then
one more every ``window / limit`` seconds: a smooth sliding window with a single stored value.

Times are whole microseconds, so the arithmetic is exact (they stay far below 2**53, which the
Redis Lua interpreter's doubles hold exactly). The emission interval is rounded down to a whole
microsecond and the burst is ``limit`` intervals, so a full burst is exactly ``limit`` hits.
``redis_limiter.GCRA_SCRIPT`` is this same function in Lua; keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from src.domain.shared.rate_limit import RateDecision

MICROS = 1_000_000


@dataclass(frozen=True, slots=True)
class GcraParameters:
    limit: int
    #: Microseconds between two hits at the sustained rate (``window / limit``).
    interval_us: int
    #: How far ahead of now the TAT may run: ``limit`` intervals.
    burst_us: int
    #: What one hit of this cost adds to the TAT.
    increment_us: int


def parameters(limit: int, window_seconds: float, cost: int = 1) -> GcraParameters:
    """Validate a check's arguments and turn them into GCRA's microsecond parameters."""
    if limit < 1:
        raise ValueError(f"a rate limit needs a positive limit, got {limit}")
    if window_seconds <= 0:
        raise ValueError(f"a rate limit needs a positive window, got {window_seconds}")
    if not 1 <= cost <= limit:
        # A cost above the limit could never be allowed; that is a programming error, not a 429.
        raise ValueError(f"a hit's cost must be between 1 and the limit ({limit}), got {cost}")
    interval = max(1, round(window_seconds * MICROS) // limit)
    return GcraParameters(limit=limit, interval_us=interval, burst_us=limit * interval, increment_us=cost * interval)


@dataclass(frozen=True, slots=True)
class GcraOutcome:
    allowed: bool
    #: The TAT to store when allowed; ``None`` when rejected (a rejected hit changes nothing).
    new_tat_us: int | None
    remaining: int
    reset_us: int
    retry_us: int

    def decision(self, limit: int) -> RateDecision:
        return RateDecision(
            allowed=self.allowed,
            limit=limit,
            remaining=self.remaining,
            reset_after=self.reset_us / MICROS,
            retry_after=self.retry_us / MICROS,
        )


def decide(stored_tat_us: int | None, now_us: int, p: GcraParameters) -> GcraOutcome:
    """One hit at ``now_us`` against a key whose stored TAT is ``stored_tat_us`` (``None``: unseen)."""
    tat = now_us if stored_tat_us is None or stored_tat_us < now_us else stored_tat_us
    new_tat = tat + p.increment_us
    allow_at = new_tat - p.burst_us
    if allow_at > now_us:
        return GcraOutcome(
            allowed=False,
            new_tat_us=None,
            remaining=(p.burst_us - (tat - now_us)) // p.interval_us,
            reset_us=tat - now_us,
            retry_us=allow_at - now_us,
        )
    return GcraOutcome(
        allowed=True,
        new_tat_us=new_tat,
        remaining=(p.burst_us - (new_tat - now_us)) // p.interval_us,
        reset_us=new_tat - now_us,
        retry_us=0,
    )
