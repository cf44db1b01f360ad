"""Stop signals: "stop reply X" reaches whichever instance is generating X.

A request is delivered to this process's watchers at once and, with Redis, published on
``parley:chat:stop``, which every process that generates replies (the API, ``parley chat``)
listens to. Without Redis (or while it is unreachable) only a local reply can be stopped this way;
a reply whose instance is gone is finished by the stale-reply recovery instead.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from src.infrastructure.logging import get_logger
from src.infrastructure.realtime.pubsub import PubSubHub

logger = get_logger("parley.realtime")

STOP_CHANNEL = "parley:chat:stop"


class PubSubStopSignals:
    """The ``StopSignals`` port."""

    def __init__(self, hub: PubSubHub | None = None) -> None:
        self._hub = hub
        self._watchers: defaultdict[uuid.UUID, list[Callable[[], None]]] = defaultdict(list)
        self._token: int | None = None

    async def start(self) -> None:
        """Listen for stops requested on other instances (call once the event loop runs)."""
        if self._hub is not None and self._token is None:
            self._token = await self._hub.subscribe(STOP_CHANNEL, self._heard)

    def stop(self) -> None:
        if self._hub is not None and self._token is not None:
            self._hub.unsubscribe(STOP_CHANNEL, self._token)
            self._token = None

    async def request_stop(self, reply_id: uuid.UUID) -> None:
        self._fire(reply_id)
        if self._hub is not None:
            await self._hub.publish(STOP_CHANNEL, str(reply_id).encode())

    @contextmanager
    def watch(self, reply_id: uuid.UUID, on_stop: Callable[[], None]) -> Iterator[None]:
        self._watchers[reply_id].append(on_stop)
        try:
            yield
        finally:
            callbacks = self._watchers.get(reply_id)
            if callbacks is not None:
                if on_stop in callbacks:
                    callbacks.remove(on_stop)
                if not callbacks:
                    del self._watchers[reply_id]

    def watching(self, reply_id: uuid.UUID) -> bool:
        return bool(self._watchers.get(reply_id))

    def _heard(self, payload: bytes) -> None:
        try:
            reply_id = uuid.UUID(payload.decode())
        except ValueError:
            return
        self._fire(reply_id)

    def _fire(self, reply_id: uuid.UUID) -> None:
        for callback in list(self._watchers.get(reply_id, ())):
            try:
                callback()
            except Exception as exc:  # noqa: BLE001
                logger.warning("stop_callback_failed", error=f"{type(exc).__name__}: {exc}")
