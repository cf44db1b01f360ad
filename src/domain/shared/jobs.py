"""Background work as the domain sees it: receipts that make job handlers idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

#: How long a completed job's receipt is kept. A second delivery of the same job inside this
#: window is recognised and skipped; older receipts are pruned by the maintenance job.
DEFAULT_RECEIPT_RETENTION = timedelta(days=7)


@dataclass(slots=True, frozen=True)
class JobReceipt:
    """Proof that the job ``job_name`` with ``dedupe_key`` ran to completion."""

    job_name: str
    dedupe_key: str
    completed_at: datetime
    expires_at: datetime

    @classmethod
    def issue(
        cls,
        job_name: str,
        dedupe_key: str,
        *,
        now: datetime,
        retention: timedelta = DEFAULT_RECEIPT_RETENTION,
    ) -> JobReceipt:
        if not job_name or not dedupe_key:
            raise ValueError("a job receipt needs a job name and a dedupe key")
        if now.tzinfo is None:
            raise ValueError("times are timezone-aware")
        return cls(job_name=job_name, dedupe_key=dedupe_key, completed_at=now, expires_at=now + retention)

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at
