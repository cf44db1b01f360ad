"""Guards on chat: prompt injection in what users send, and the moderation queue.

``PROMPT_INJECTION_POLICY``: ``off`` (no scan), ``flag`` (the default: the message is stored and
answered, carries ``safety`` in its JSON and joins the moderation queue), ``block`` (refused with 422
``prompt_injection_suspected`` before anything is stored, counted or sent to a model).
"""

from __future__ import annotations

import uuid
from typing import Literal

from src.application.ai.ports import ModerationQueue
from src.application.ai.safety import PiiScanner
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock
from src.domain.ai.errors import PromptInjectionSuspected
from src.domain.ai.injection import InjectionVerdict, scan_prompt_injection
from src.domain.ai.moderation_queue import ModerationItem, ModerationItemKind, ModerationItemStatus, excerpt_of

InjectionPolicy = Literal["off", "flag", "block"]


class ChatSafetyGuard:
    def __init__(self, policy: InjectionPolicy, queue: ModerationQueue, pii: PiiScanner, clock: Clock) -> None:
        self.policy = policy
        self._queue = queue
        self._pii = pii
        self._clock = clock

    def verdict(self, content: str) -> InjectionVerdict | None:
        """The scanner's verdict when it flags ``content`` (and the policy scans), else ``None``."""
        if self.policy == "off":
            return None
        verdict = scan_prompt_injection(content)
        return verdict if verdict.flagged else None

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
