"""The transactional outbox as the domain sees it.

A use case that triggers background work writes an ``OutboxMessage`` in the same transaction as
its change, so the work exists exactly when the change does. A relay later hands each committed
message to the job queue; a failed hand-over leaves the message waiting, backed off, for the next
attempt. The message id doubles as the job's dedupe key, so a second delivery is recognised.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

#: Sent messages are kept this long (as a record of what went out), then pruned. The same span as
#: job receipts: a message older than its receipt could no longer be deduplicated anyway.
SENT_MESSAGE_RETENTION = timedelta(days=7)
MAX_JOB_NAME_LENGTH = 100
MAX_ERROR_LENGTH = 500


@dataclass(frozen=True, slots=True)
class OutboxBackoff:
    """How long a message waits after a failed send: ``base`` doubled per attempt, at most ``cap``."""

    base: timedelta = timedelta(seconds=1)
    cap: timedelta = timedelta(seconds=60)

    def __post_init__(self) -> None:
        if self.base <= timedelta(0) or self.cap < self.base:
            raise ValueError("a backoff needs a positive base and a cap at least as long")

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed send (1 for the first failure)."""
        if attempts < 1:
            raise ValueError("the delay follows a failed attempt: attempts start at 1")
        # In float seconds, with the exponent bounded: a message that failed thousands of times
        # must not overflow timedelta on its way to the cap.
        doubled = self.base.total_seconds() * 2.0 ** min(attempts - 1, 64)
        return timedelta(seconds=min(doubled, self.cap.total_seconds()))


DEFAULT_BACKOFF = OutboxBackoff()


@dataclass(slots=True)
class OutboxMessage:
    """One job to hand to the queue, committed with the change that caused it."""

    id: UUID
    job_name: str
    payload: dict[str, Any]
    created_at: datetime
    available_at: datetime
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None

    @classmethod
    def create(cls, job_name: str, payload: Mapping[str, Any], *, id: UUID, now: datetime) -> OutboxMessage:
        if not job_name or len(job_name) > MAX_JOB_NAME_LENGTH:
            raise ValueError(f"an outbox message needs a job name of 1 to {MAX_JOB_NAME_LENGTH} characters")
        if now.tzinfo is None:
            raise ValueError("times are timezone-aware")
        return cls(
            id=id,
            job_name=job_name,
            payload=json_payload(payload),
            created_at=now,
            available_at=now,
        )

    @property
    def is_sent(self) -> bool:
        return self.sent_at is not None

    def is_due(self, now: datetime) -> bool:
        """Waiting to be sent, and not backed off past ``now``."""
        return not self.is_sent and self.available_at <= now

    def mark_sent(self, now: datetime) -> None:
        if self.is_sent:
            raise ValueError(f"outbox message {self.id} was already sent")
        self.sent_at = now

    def mark_resent(self, now: datetime) -> None:
        """Handed to the queue again: the queue lost the job (Redis lost its data) before it ran."""
        if not self.is_sent:
            raise ValueError(f"outbox message {self.id} was never sent")
        self.attempts += 1
        self.sent_at = now

    def record_failure(self, error: str, *, now: datetime, backoff: OutboxBackoff = DEFAULT_BACKOFF) -> None:
        """A send failed: count it, keep the reason, and wait before the next attempt."""
        if self.is_sent:
            raise ValueError(f"outbox message {self.id} was already sent")
        self.attempts += 1
        self.last_error = (error or "unknown error")[:MAX_ERROR_LENGTH]
        self.available_at = now + backoff.delay(self.attempts)


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """The messages still waiting to be sent."""

    pending: int
    oldest_created_at: datetime | None

    def oldest_age_seconds(self, now: datetime) -> float:
        """How long the oldest waiting message has waited; 0 when nothing waits."""
        if self.oldest_created_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_created_at).total_seconds())


def json_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``payload`` exactly as the job will receive it after a trip through JSON.

    Raises ``ValueError`` for values JSON cannot carry (dates, UUIDs, NaN, ...): convert them to
    strings in the use case, where their meaning is known.
    """
    try:
        # A dict always comes back from JSON as a dict.
        decoded: dict[str, Any] = json.loads(json.dumps(dict(payload), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"an outbox payload must be plain JSON: {exc}") from None
    return decoded
