"""The offline provider: deterministic models that need no key and no network.

``offline/echo`` answers with the last user message; ``offline/lorem`` with lorem ipsum chosen by
a hash of the prompt (the same prompt always gets the same answer). Both stream word by word with
``OFFLINE_TOKEN_DELAY_MS`` between tokens, honour ``max_output_tokens`` (finish_reason ``length``)
and stop sequences, and report honest usage: tokens are counted the way they are streamed, one
token a word with its leading whitespace, or a punctuation mark.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
from collections.abc import AsyncIterator

from src.application.shared.ports import Clock
from src.domain.llm.errors import UnknownModel
from src.domain.llm.model import (
    ChatRequest,
    Chunk,
    Completion,
    FinishReason,
    MessageRole,
    StreamEnd,
    TextDelta,
    Usage,
)

PROVIDER = "offline"
MODELS = ("echo", "lorem")
_TOKENS = re.compile(r"\s*(?:\w+|[^\w\s])", re.UNICODE)
_LOREM = (  # noqa: SIM905 - a sentence reads better than 64 quoted words
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et "
    "dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea "
    "commodo consequat duis aute irure in reprehenderit voluptate velit esse cillum eu fugiat nulla pariatur "
    "excepteur sint occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum"
).split()


def tokenize(text: str) -> list[str]:
    """The offline models' tokens; joined back together they give ``text`` (trailing space aside)."""
    return _TOKENS.findall(text)


class OfflineChatModel:
    """A ``ChatModel`` for the ``offline/*`` models."""

    provider = PROVIDER

    def __init__(self, clock: Clock, *, token_delay_ms: int = 15) -> None:
        self._clock = clock
        self._delay = token_delay_ms / 1000

    async def aclose(self) -> None:
        """Nothing to close; here so every adapter can be closed alike."""

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        started = self._clock.monotonic()
        model = request.model_id.name
        if request.model_id.provider != PROVIDER or model not in MODELS:
            raise UnknownModel(f"the offline provider has no model {request.model!r}", extra={"model": request.model})
        tokens, finish = self._answer(request, model)
        ttft_ms: int | None = None
        for token in tokens:
            # Even with no delay, give the event loop a turn per token, as a network stream would.
            await asyncio.sleep(self._delay)
            if ttft_ms is None:
                ttft_ms = self._elapsed_ms(started)
            yield TextDelta(token)
        usage = Usage(
            input_tokens=sum(len(tokenize(m.content)) for m in request.messages),
            output_tokens=len(tokens),
        )
        yield StreamEnd(
            finish_reason=finish,
            usage=usage,
            provider=PROVIDER,
            model=model,
            latency_ms=self._elapsed_ms(started),
            ttft_ms=ttft_ms,
        )

    async def complete(self, request: ChatRequest) -> Completion:
        parts: list[str] = []
        async for chunk in self.stream(request):
            if isinstance(chunk, TextDelta):
                parts.append(chunk.text)
            else:
                return Completion(
                    text="".join(parts),
                    finish_reason=chunk.finish_reason,
                    usage=chunk.usage,
                    provider=chunk.provider,
                    model=chunk.model,
                    latency_ms=chunk.latency_ms,
                    ttft_ms=chunk.ttft_ms,
                )
        raise AssertionError("an offline stream always ends with StreamEnd")  # pragma: no cover

    def _answer(self, request: ChatRequest, model: str) -> tuple[list[str], FinishReason]:
        if model == "echo":
            last_user = next((m.content for m in reversed(request.messages) if m.role is MessageRole.USER), "")
            text = last_user.strip() or "(nothing to echo)"
        else:
            text = _lorem(request)
        finish = FinishReason.STOP
        for stop in request.stop:
            if stop and stop in text:
                text = text[: text.index(stop)]
        tokens = tokenize(text)
        limit = request.max_output_tokens
        if limit is not None and len(tokens) > limit:
            tokens, finish = tokens[:limit], FinishReason.LENGTH
        return tokens, finish

    def _elapsed_ms(self, started: float) -> int:
        return round((self._clock.monotonic() - started) * 1000)


def _lorem(request: ChatRequest) -> str:
    digest = hashlib.sha256("\x1e".join(f"{m.role}:{m.content}" for m in request.messages).encode()).digest()
    rng = random.Random(digest)  # noqa: S311 - deterministic filler text, not security
    sentences = []
    for _ in range(rng.randint(2, 5)):
        words = [rng.choice(_LOREM) for _ in range(rng.randint(6, 14))]
        sentences.append(" ".join(words).capitalize() + ".")
    return " ".join(sentences)
