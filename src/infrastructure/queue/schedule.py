"""Every background job Parley runs: its name, schedule, time limit and retries, in one table.

The job catalog (``catalog.py``) pairs each definition with the handler that calls its use case;
this module holds the definitions alone and imports nothing heavier than the job names, so
``parley jobs list`` answers without building the application. A test checks that the full
container's catalog runs exactly these definitions.
"""

from __future__ import annotations

from dataclasses import dataclass

from src.application.chat.jobs import SUMMARY_JOB, TITLE_JOB
from src.application.knowledge.jobs import REFRESH_DICTIONARY_JOB
from src.application.shared.events import DISPATCH_EVENT_JOB

PRUNE_EXPIRED = "prune_expired"
RECOVER_STALE_REPLIES = "recover_stale_replies"
SEND_EMAIL_DIGESTS = "send_email_digests"
PRUNE_NOTIFICATIONS = "prune_notifications"
PRUNE_AUDIT_EVENTS = "prune_audit_events"


@dataclass(frozen=True, slots=True)
class JobDefinition:
    name: str
    #: When it runs by itself (cron, UTC); ``None``: when queued (through the outbox, or ``parley jobs run``).
    cron: str | None = None
    timeout_seconds: float = 60
    retries: int = 3
    retry_delay_seconds: float = 1.0
    #: Upper bound of the exponential backoff between retries.
    max_retry_delay_seconds: float = 60.0
    #: What it does, for ``parley jobs list``.
    purpose: str = ""


# Every ten minutes: cheap when there is nothing to delete, bounded when there is.
PRUNE_EXPIRED_JOB = JobDefinition(
    PRUNE_EXPIRED,
    cron="*/10 * * * *",
    timeout_seconds=300,
    retries=2,
    purpose="deletes expired rows (refresh tokens, receipts, sent outbox messages, ...)",
)
# After each fetched paragraph (through the outbox): the dictionary's cached levels, fresh.
REFRESH_DICTIONARY = JobDefinition(
    REFRESH_DICTIONARY_JOB, timeout_seconds=120, retries=2, purpose="recomputes the dictionary after a fetch"
)
# After the first reply of an untitled conversation (through the outbox, by SendMessage).
TITLE_CONVERSATION = JobDefinition(
    TITLE_JOB, timeout_seconds=60, retries=2, purpose="titles a conversation after its first reply"
)
# Every minute: replies whose instance died mid-way are stored as interrupted.
RECOVER_STALE = JobDefinition(
    RECOVER_STALE_REPLIES,
    cron="* * * * *",
    timeout_seconds=50,
    retries=0,
    purpose="stores replies whose instance died mid-way as interrupted",
)
# Each domain event (through the outbox): its handlers, retried with backoff up to ~5 minutes; a long
# announcement fan-out fits in the timeout.
DISPATCH_EVENT = JobDefinition(
    DISPATCH_EVENT_JOB,
    timeout_seconds=900,
    retries=6,
    retry_delay_seconds=2.0,
    max_retry_delay_seconds=120.0,
    purpose="runs the handlers of one domain event (notifications, e-mail, ...)",
)
# Every minute: the e-mail digests that are due (at most one per user, category and window).
EMAIL_DIGESTS = JobDefinition(
    SEND_EMAIL_DIGESTS, cron="* * * * *", timeout_seconds=55, retries=2, purpose="sends the e-mail digests due"
)
# Hourly: read notifications past NOTIFICATION_RETENTION_DAYS, and old processed-event records.
PRUNE_NOTIFICATIONS_JOB = JobDefinition(
    PRUNE_NOTIFICATIONS,
    cron="23 * * * *",
    timeout_seconds=300,
    retries=2,
    purpose="deletes read notifications past their retention",
)
# Queued by a reply once a batch of turns fell out of its context; a retry is harmless (the summary
# is stored only if it still ends where the job found it).
SUMMARIZE_CONVERSATION = JobDefinition(
    SUMMARY_JOB,
    timeout_seconds=120,
    retries=2,
    purpose="folds the turns a reply no longer sends into the running summary",
)
# Daily: audit events older than AUDIT_RETENTION_DAYS (the only deletion the log allows).
PRUNE_AUDIT = JobDefinition(
    PRUNE_AUDIT_EVENTS,
    cron="41 3 * * *",
    timeout_seconds=600,
    retries=2,
    purpose="deletes audit events past AUDIT_RETENTION_DAYS",
)

#: Parley's jobs, in the order ``parley jobs list`` shows them.
PARLEY_JOBS: tuple[JobDefinition, ...] = (
    PRUNE_EXPIRED_JOB,
    REFRESH_DICTIONARY,
    TITLE_CONVERSATION,
    RECOVER_STALE,
    DISPATCH_EVENT,
    EMAIL_DIGESTS,
    PRUNE_NOTIFICATIONS_JOB,
    SUMMARIZE_CONVERSATION,
    PRUNE_AUDIT,
)
