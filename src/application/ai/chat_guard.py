"""Guards on chat: prompt injection in what users send, and the moderation queue.

``PROMPT_INJECTION_POLICY``: ``off`` (no scan), ``flag`` (the default: the message is stored and
answered, carries ``safety`` in its JSON and joins the moderation queue), ``block`` (refused with 422
``prompt_injection_suspected`` before anything is stored, counted or sent to a model).

``MODERATE_CHAT=true``: once a reply has ended, the user's message and the reply are moderated after
the fact (OpenAI's moderation endpoint when a key is set, else Parley's rules: free, and no model is
asked); a flagged one joins the moderation queue with reasons ``moderation:<category>``. Nothing is
refused or changed: the user has already seen the reply.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any, Literal

from src.application.ai.ports import ModerationQueue, ModerationService
from src.application.ai.safety import PiiScanner
from src.application.chat.views import ReplyHandle
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock
from src.domain.ai.errors import PromptInjectionSuspected
from src.domain.ai.injection import InjectionVerdict, scan_prompt_injection
from src.domain.ai.model import ModerationVerdict
from src.domain.ai.moderation_queue import ModerationItem, ModerationItemKind, ModerationItemStatus, excerpt_of
from src.domain.ai.offline_tools import rule_moderation
from src.domain.chat.grounding import Passage
from src.domain.llm.errors import ProviderError

InjectionPolicy = Literal["off", "flag", "block"]


class ChatModerator:
    """The moderation endpoint when there is one, falling back to the rules when it fails."""

    def __init__(self, service: ModerationService | None) -> None:
        self._service = service

    async def verdict(self, text: str) -> ModerationVerdict:
        if self._service is not None:
            try:
                return await self._service.moderate(text)
            except ProviderError:
                pass
        return rule_moderation(text)


class ChatSafetyGuard:
    def __init__(
        self,
        policy: InjectionPolicy,
        queue: ModerationQueue,
        pii: PiiScanner,
        clock: Clock,
        *,
        moderator: ChatModerator | None = None,
    ) -> None:
        """``moderator`` ``None``: chat is not moderated after the fact (``MODERATE_CHAT=false``)."""
        self.policy = policy
        self._queue = queue
        self._pii = pii
        self._clock = clock
        self._moderator = moderator
        self._pending: set[asyncio.Task[None]] = set()

    def after_reply(self, user_id: uuid.UUID, message_id: uuid.UUID, content: str, handle: ReplyHandle) -> None:
        """Moderate the message now and the reply once it ends, in the background (``MODERATE_CHAT``)."""
        if self._moderator is None:
            return
        task = asyncio.get_running_loop().create_task(self._moderate(user_id, message_id, content, handle))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Wait for the moderation under way (shutdown, tests)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _moderate(self, user_id: uuid.UUID, message_id: uuid.UUID, content: str, handle: ReplyHandle) -> None:
        assert self._moderator is not None
        await self._report_if_flagged(ModerationItemKind.MESSAGE, message_id, user_id, content)
        outcome = await handle.outcome()
        if outcome.message is not None and outcome.message.content:
            await self._report_if_flagged(
                ModerationItemKind.REPLY, outcome.message.id, user_id, outcome.message.content
            )

    async def _report_if_flagged(
        self, kind: ModerationItemKind, target_id: uuid.UUID, user_id: uuid.UUID, text: str
    ) -> None:
        assert self._moderator is not None
        verdict = await self._moderator.verdict(text)
        if verdict.flagged:
            reasons = tuple(f"moderation:{name}" for name, hit in verdict.categories.items() if hit)
            await self.report(kind, target_id, user_id, text, reasons)

    def verdict(self, content: str) -> InjectionVerdict | None:
        """The scanner's verdict when it flags ``content`` (and the policy scans), else ``None``."""
        if self.policy == "off":
            return None
        verdict = scan_prompt_injection(content)
        return verdict if verdict.flagged else None

    def safety_of(self, content: str) -> dict[str, Any] | None:
        """``{"prompt_injection": {flagged, score, reasons}}`` when the scanner flags ``content``: the
        ``safety`` of a user message's JSON, the same in REST, the SSE ``message`` event and WebSocket."""
        verdict = self.verdict(content)
        if verdict is None:
            return None
        return {"prompt_injection": {"flagged": True, "score": verdict.score, "reasons": list(verdict.reasons)}}

    async def report_passages(self, user_id: uuid.UUID, passages: Sequence[Passage]) -> int:
        """Queue the grounding passages the scanner flags (labelled as such in the prompt), each once
        however many replies it grounds (a reviewed one is not queued again). How many were queued."""
        queued = 0
        for passage in passages:
            verdict = self.verdict(passage.excerpt)
            if verdict is None:
                continue
            now = self._clock.now()
            item = ModerationItem(
                id=new_id(now),
                kind=ModerationItemKind.PASSAGE,
                target_id=passage.id,
                user_id=user_id,
                reasons=verdict.reasons,
                excerpt=self._pii.mask(excerpt_of(passage.excerpt)),
                status=ModerationItemStatus.OPEN,
                created_at=now,
            )
            queued += await self._queue.enqueue_once(item)
        return queued

    def check_message(self, content: str) -> InjectionVerdict | None:
        """Before a message is stored: refuse it under ``block``; its verdict to report under ``flag``."""
        verdict = self.verdict(content)
        if verdict is not None and self.policy == "block":
            raise PromptInjectionSuspected(
                "the message reads like an attempt to override the assistant's instructions",
                extra={"reasons": list(verdict.reasons), "score": verdict.score},
            )
        return verdict

    async def report(
        self,
        kind: ModerationItemKind,
        target_id: uuid.UUID,
        user_id: uuid.UUID | None,
        text: str,
        reasons: tuple[str, ...],
    ) -> None:
        """Queue ``text`` for review; the excerpt has personal data masked."""
        now = self._clock.now()
        await self._queue.enqueue(
            ModerationItem(
                id=new_id(now),
                kind=kind,
                target_id=target_id,
                user_id=user_id,
                reasons=reasons,
                excerpt=self._pii.mask(excerpt_of(text)),
                status=ModerationItemStatus.OPEN,
                created_at=now,
            )
        )
