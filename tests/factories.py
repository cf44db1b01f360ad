"""polyfactory factories for domain objects and request bodies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from polyfactory import Use
from polyfactory.factories import DataclassFactory

from src.domain.shared.jobs import JobReceipt

EPOCH = datetime(2026, 6, 1, tzinfo=UTC)


class JobReceiptFactory(DataclassFactory[JobReceipt]):
    """Receipts completed at ``EPOCH`` that expire one hour later unless told otherwise."""

    job_name = Use(lambda: JobReceiptFactory.__faker__.random_element(["prune_expired", "title", "notify"]))
    dedupe_key = Use(lambda: JobReceiptFactory.__faker__.uuid4())
    completed_at = Use(lambda: EPOCH)
    expires_at = Use(lambda: EPOCH + timedelta(hours=1))
