"""A reply's model call started inside the send's transaction, before the reply's rows are committed.

``SendMessage`` starts the call as soon as the prompt is built: the reply lock is held and the budget
checked by then, so that the provider's time to its first token overlaps storing the two rows and the
commit (about a millisecond of a reply's time to first token on PostgreSQL). Nothing the call sends is
shown or stored before the commit: a task of this call's own reads the first chunk and holds it; the
reply's task reads it, then the rest, once the reply is launched (``chunks``). When the transaction
fails, ``cancel`` stops the call (the connection to the provider is closed) and nothing of it is kept.

A first chunk that has arrived by the launch (the provider answered during the commit, as it mostly
does) is a delta the launch shows at once (``take_first_delta``): it is in the reply's stream before
the send returns, and the reply's task reads the call from the chunk after it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from src.domain.llm.model import Chunk, TextDelta


class StartedCall:
    def __init__(self, chunks: AsyncIterator[Chunk]) -> None:
        self._chunks = chunks
        self._first: asyncio.Task[Chunk | None] = asyncio.ensure_future(_first_of(chunks))
        #: The first chunk was handed out by ``take_first_delta``: ``chunks`` starts after it.
        self._first_taken = False

    def take_first_delta(self) -> TextDelta | None:
        """The call's first chunk, when it has arrived and is text; ``chunks`` then starts after it.
        ``None`` (and nothing taken) while it is still coming, or when it is anything else (the end of
        an empty answer, a failure): the reply's task reads it as usual."""
        first = self._first
        if self._first_taken or not first.done() or first.cancelled() or first.exception() is not None:
            return None
        chunk = first.result()
        if not isinstance(chunk, TextDelta) or not chunk.text:
            return None
        self._first_taken = True
        return chunk

    async def chunks(self) -> AsyncIterator[Chunk]:
        """The call's chunks, the first one (already read, or still coming) included unless it was taken;
        read once."""
        try:
            first = await self._first
            if first is None:
                return
            if not self._first_taken:
                yield first
            async for chunk in self._chunks:
                yield chunk
        finally:
            await self.cancel()

    async def cancel(self) -> None:
        """Stop the call: its first read cancelled when still waiting, its stream closed (the adapters
        close the connection to the provider). Safe to call more than once."""
        if not self._first.done():
            self._first.cancel()
            await asyncio.wait({self._first})
        if not self._first.cancelled():
            self._first.exception()  # a failed first read is no one's to report once the call is stopped
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


async def _first_of(chunks: AsyncIterator[Chunk]) -> Chunk | None:
    async for chunk in chunks:
        return chunk
    return None
