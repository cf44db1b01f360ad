"""The job catalogue: every background job Parley runs, each definition (``schedule.py``: name,
schedule, time limit, retries) paired with its handler.

Both runners read it: SAQ workers (``parley worker``) when Redis is configured, and the
in-process runner inside the API when it is not. A handler receives the job's payload and calls
one use case; a job that carries a dedupe key goes through ``RunJobOnce`` so that a second
delivery is skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from src.application.chat.recover_stale_replies import RecoverStaleReplies
from src.application.chat.title_conversation import TitleConversation, TitleConversationCommand
from src.application.knowledge.refresh_dictionary import RefreshDictionary
from src.application.shared.prune_expired import PruneExpiredCommand, PruneExpiredRecords
from src.application.shared.run_job_once import RunJobOnce
from src.application.unit_of_work import UnitOfWork
from src.infrastructure.observability.tracing import JobTracer
from src.infrastructure.queue.schedule import (
    PRUNE_EXPIRED_JOB,
    RECOVER_STALE,
    REFRESH_DICTIONARY,
    TITLE_CONVERSATION,
    JobDefinition,
)

Handler = Callable[[Mapping[str, Any]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    handler: Handler
    cron: str | None = None
    timeout_seconds: float = 60
    retries: int = 3
    retry_delay_seconds: float = 1.0
    #: Upper bound of the exponential backoff between retries.
    max_retry_delay_seconds: float = 60.0

    @classmethod
    def of(cls, definition: JobDefinition, handler: Handler) -> JobSpec:
        """The job ``definition`` describes (``schedule.py``), run by ``handler``: every field but the
        handler is the definition's."""
        taken = {f.name: getattr(definition, f.name) for f in fields(cls) if f.name != "handler"}
        return cls(handler=handler, **taken)


class JobCatalog:
    def __init__(self, specs: list[JobSpec], run_once: RunJobOnce, tracer: JobTracer | None = None) -> None:
        names = [s.name for s in specs]
        if len(names) != len(set(names)):
            raise ValueError("job names must be unique")
        self._specs = {s.name: s for s in specs}
        self._run_once = run_once
        self._tracer = tracer or JobTracer(None)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._specs.values())

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def get(self, name: str) -> JobSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise KeyError(f"unknown job {name!r}; known: {', '.join(sorted(self._specs))}") from None

    @property
    def scheduled(self) -> list[JobSpec]:
        return [s for s in self._specs.values() if s.cron]

    async def run(self, name: str, payload: Mapping[str, Any], dedupe_key: str | None) -> Any:
        spec = self.get(name)
        with self._tracer.span(name, dedupe_key=dedupe_key):
            outcome = await self._run_once(name, dedupe_key, lambda: spec.handler(payload))
        return outcome.result if outcome.ran else {"skipped": "already_done", "dedupe_key": dedupe_key}


def build_job_catalog(
    *,
    prune_expired: PruneExpiredRecords[UnitOfWork],
    run_once: RunJobOnce,
    tracer: JobTracer | None = None,
    extra_jobs: Sequence[JobSpec] = (),
    refresh_dictionary: RefreshDictionary | None = None,
    title_conversation: TitleConversation | None = None,
    recover_stale_replies: RecoverStaleReplies | None = None,
) -> JobCatalog:
    async def prune(payload: Mapping[str, Any]) -> dict[str, int]:
        command = PruneExpiredCommand(batch_size=int(payload.get("batch_size", 1000)))
        result = await prune_expired(command)
        return result.deleted

    return JobCatalog(
        [
            JobSpec.of(PRUNE_EXPIRED_JOB, prune),
            *_knowledge_jobs(refresh_dictionary),
            *_chat_jobs(title_conversation, recover_stale_replies),
            *extra_jobs,
        ],
        run_once=run_once,
        tracer=tracer,
    )


def _knowledge_jobs(refresh_dictionary: RefreshDictionary | None) -> list[JobSpec]:
    if refresh_dictionary is None:
        return []

    async def refresh(_payload: Mapping[str, Any]) -> dict[str, list[str]]:
        return await refresh_dictionary()

    return [JobSpec.of(REFRESH_DICTIONARY, refresh)]


def _chat_jobs(title: TitleConversation | None, recover: RecoverStaleReplies | None) -> list[JobSpec]:
    jobs: list[JobSpec] = []
    if title is not None:

        async def title_conversation(payload: Mapping[str, Any]) -> dict[str, str | None]:
            result = await title(TitleConversationCommand(conversation_id=uuid.UUID(str(payload["conversation_id"]))))
            return {"title": result.title, "source": result.source}

        jobs.append(JobSpec.of(TITLE_CONVERSATION, title_conversation))
    if recover is not None:

        async def recover_stale(_payload: Mapping[str, Any]) -> dict[str, int]:
            return {"recovered": (await recover()).recovered}

        jobs.append(JobSpec.of(RECOVER_STALE, recover_stale))
    return jobs
