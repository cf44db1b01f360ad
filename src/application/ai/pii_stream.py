"""``PII_REDACTION`` on chat: personal data kept from the provider, or kept out of replies.

- ``input``: every message of the prompt (system prompt and grounding passages included) has its
  personal data replaced by numbered placeholders (``[EMAIL_1]``, the same value the same
  placeholder) before the provider sees it; the placeholders the model writes back are restored in
  the reply the user gets.
- ``output``: personal data the model writes is masked in the reply (``[EMAIL]``).
- ``both``: the two together (the user's own values come back; anything else is masked).

Streamed replies go through ``PiiReplyFilter``: it holds back the last ``HOLDBACK_CHARS`` characters
(cut at a space), so a number split across deltas is seen whole before any of it is sent. The
stored reply is exactly what was streamed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from src.application.ai.safety import PiiScanner
from src.domain.ai.pii import Redactor, mask_by_type, restore
from src.domain.llm.model import PromptMessage

PiiRedaction = Literal["off", "output", "input", "both"]
HOLDBACK_CHARS = 64


class PiiReplyFilter:
    def __init__(self, scanner: PiiScanner, originals: Mapping[str, str], *, mask: bool) -> None:
        self._scanner = scanner
        self._originals = dict(originals)
        self._mask = mask
        self._pending = ""

    def feed(self, delta: str) -> str:
        """The text that can be sent now (possibly empty); the rest waits for more."""
        self._pending += delta
        if len(self._pending) <= HOLDBACK_CHARS:
            return ""
        cut = len(self._pending) - HOLDBACK_CHARS
        space = self._pending.rfind(" ", 0, cut + 1)
        if space > 0:
            cut = space + 1
        if self._mask:
            # Never cut through something that is personal data as far as the text goes.
            for match in self._scanner.find(self._pending):
                if match.start < cut < match.end:
                    cut = match.start
                    break
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return self.transform(ready)

    def finish(self) -> str:
        """Whatever is still held back, filtered: the end of the reply."""
        ready, self._pending = self._pending, ""
        return self.transform(ready)

    def transform(self, text: str) -> str:
        if self._mask and text:
            text = mask_by_type(text, self._scanner.find(text))
        if self._originals:
            text = restore(text, self._originals)
        return text


class ChatPiiPolicy:
    def __init__(self, scanner: PiiScanner, mode: PiiRedaction) -> None:
        self._scanner = scanner
        self.mode = mode

    def prepare(self, messages: Sequence[PromptMessage]) -> tuple[tuple[PromptMessage, ...], PiiReplyFilter | None]:
        """The prompt to send and the filter the reply goes through (``None``: nothing to do)."""
        if self.mode == "off":
            return tuple(messages), None
        redactor = Redactor()
        if self.mode in ("input", "both"):
            prompt: list[PromptMessage] = []
            for message in messages:
                found = self._scanner.find(message.content)
                content = redactor.redact(message.content, found) if found else message.content
                prompt.append(message if not found else PromptMessage(message.role, content, message.tokens))
            messages = prompt
        mask = self.mode in ("output", "both")
        if not redactor.originals and not mask:
            return tuple(messages), None
        return tuple(messages), PiiReplyFilter(self._scanner, redactor.originals, mask=mask)
