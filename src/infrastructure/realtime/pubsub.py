"""One Redis pub/sub connection per process, shared by every realtime feature.

User events, stop signals and live reply events all travel through it: each process subscribes to
the channels its local readers need (reference counted) on a single connection, and a listener task
hands each message to the local handlers. Messages carry the publishing instance's id: an instance
delivers its own messages locally at once and ignores their echo from Redis.

Redis failures never reach callers: ``publish`` reports ``False`` (the caller's local delivery is
all there is), and the listener reconnects with backoff and subscribes again to every channel.
Whatever was published meanwhile is lost to other instances; readers that cannot lose anything
(reply streams) also poll the stored stream, so they recover it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from src.infrastructure.logging import get_logger
from src.infrastructure.resilience import CircuitBreaker
from src.infrastructure.tasks import cancel_and_wait, raise_if_cancelled

logger = get_logger("parley.realtime")

Handler = Callable[[bytes], None]
#: How long the listener waits for a message before it applies subscription changes.
POLL_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 5.0
SUBSCRIBE_TIMEOUT_SECONDS = 2.0


class PubSubHub:
    def __init__(
        self,
        client: Redis,
        breaker: CircuitBreaker | None = None,
        *,
        timeout: float = 0.5,
        instance_id: str | None = None,
    ) -> None:
        """``client`` (the hub's own: ``stop`` closes it) must have no socket read timeout."""
        self._redis = client
        self._breaker = breaker
        self._timeout = timeout
        self.instance_id = instance_id or uuid.uuid4().hex
        self._origin = self.instance_id.encode() + b"|"
        self._handlers: defaultdict[str, dict[int, Handler]] = defaultdict(dict)
        self._next_token = 0
        self._pending: set[str] = set()
        self._confirmations: defaultdict[str, list[asyncio.Future[None]]] = defaultdict(list)
        self._listener: asyncio.Task[None] | None = None
        #: Messages waiting for the next publishing round trip, and its outcome.
        self._outgoing: list[tuple[str, bytes]] | None = None
        self._sent: asyncio.Future[bool] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.connected = False
        #: Counts the connections made: bumped each time the listener has (re)subscribed every
        #: channel, so a reader can tell whether messages could have been missed since a moment.
        self.sessions = 0
        #: Set while the listener cannot reach Redis: subscribers then do not wait for a confirmation.
        self._failing = False

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(), name="pubsub-listener")

    async def stop(self) -> None:
        await cancel_and_wait(self._listener, self._sender)
        self._listener = self._sender = None
        if self._sent is not None and not self._sent.done():
            self._sent.set_result(False)
        self._outgoing, self._sent = None, None
        for waiters in self._confirmations.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.cancel()
        self._confirmations.clear()
        with contextlib.suppress(Exception):
            await self._redis.aclose()

    # -- publishing ---------------------------------------------------------------------------------

    async def publish(self, channel: str, payload: bytes) -> bool:
        """Send ``payload`` to the other instances; ``False`` when Redis could not take it.

        Messages published while a round trip is under way go together in the next one (one
        pipeline), in the order they were published.
        """
        loop = asyncio.get_running_loop()
        sender = self._sender
        if sender is None or sender.done() or sender.get_loop() is not loop:
            self._outgoing, self._sent = [], loop.create_future()
            self._sender = asyncio.create_task(self._send_outgoing(), name="pubsub-publisher")
        elif self._outgoing is None:
            self._outgoing, self._sent = [], loop.create_future()
        assert self._outgoing is not None
        self._outgoing.append((channel, self._origin + payload))
        sent = self._sent
        assert sent is not None
        # Shielded: a caller that goes away never cancels the others' round trip.
        return await asyncio.shield(sent)

    async def _send_outgoing(self) -> None:
        while self._outgoing is not None:
            raise_if_cancelled()
            batch, sent = self._outgoing, self._sent
            self._outgoing, self._sent = None, None
            assert sent is not None
            try:
                result = await self._send(batch)
            except BaseException:
                if not sent.done():
                    sent.set_result(False)
                raise
            if not sent.done():
                sent.set_result(result)

    async def _send(self, batch: list[tuple[str, bytes]]) -> bool:
        async def send() -> bool:
            async with asyncio.timeout(self._timeout):
                if len(batch) == 1:
                    await self._redis.publish(*batch[0])
                else:
                    pipe = self._redis.pipeline(transaction=False)
                    for channel, message in batch:
                        pipe.publish(channel, message)
                    await pipe.execute()
            return True

        async def skip() -> bool:
            return False

        if self._breaker is None:
            try:
                return await send()
            except Exception:  # noqa: BLE001 - Redis away: local delivery only
                return False
        return await self._breaker.call(send, skip)

    def frame(self, payload: bytes) -> bytes:
        """``payload`` as ``publish`` sends it (for callers that publish through a pipeline)."""
        return self._origin + payload

    # -- subscribing --------------------------------------------------------------------------------

    async def subscribe(self, channel: str, handler: Handler, *, wait: bool = True) -> int:
        """Call ``handler(payload)`` for every message other instances publish on ``channel``.

        With ``wait``, returns once Redis confirmed the subscription (or after a short timeout when
        Redis is away: the subscription is made when it is back). Returns a token for ``unsubscribe``.
        """
        self.start()
        self._next_token += 1
        token = self._next_token
        first = not self._handlers[channel]
        self._handlers[channel][token] = handler
        if first:
            self._pending.add(channel)
            self._wake.set()
            if wait and not self._failing:
                waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._confirmations[channel].append(waiter)
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(waiter), SUBSCRIBE_TIMEOUT_SECONDS)
        return token

    def unsubscribe(self, channel: str, token: int) -> None:
        handlers = self._handlers.get(channel)
        if handlers is None:
            return
        handlers.pop(token, None)
        if not handlers:
            del self._handlers[channel]
            self._pending.add(channel)
            self._wake.set()

    def channels(self) -> list[str]:
        return list(self._handlers)

    # -- the listener -------------------------------------------------------------------------------

    async def _listen(self) -> None:
        backoff = 0.2
        while True:
            raise_if_cancelled()
            pubsub: PubSub | None = None
            try:
                pubsub = self._redis.pubsub()
                subscribed: set[str] = set()
                # Something to subscribe to first: redis-py reads nothing before a subscription.
                await self._sync(pubsub, subscribed, force=True)
                self._failing = False
                self.sessions += 1
                if not self.connected:
                    self.connected = True
                    if backoff > 0.2:
                        logger.info("pubsub_reconnected", channels=len(subscribed))
                backoff = 0.2
                while True:
                    raise_if_cancelled()
                    if self._pending:
                        await self._sync(pubsub, subscribed)
                    if not subscribed:
                        self._wake.clear()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), timeout=1.0)
                        continue
                    message = await pubsub.get_message(ignore_subscribe_messages=False, timeout=POLL_SECONDS)
                    if message is not None:
                        self._dispatch(message)
            except asyncio.CancelledError:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect whatever went wrong
                if self.connected:
                    logger.warning("pubsub_disconnected", error=f"{type(exc).__name__}: {exc}")
                self.connected = False
                self._failing = True
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
                # Every channel is subscribed again on the next connection.
                self._pending.update(self._handlers)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _sync(self, pubsub: PubSub, subscribed: set[str], *, force: bool = False) -> None:
        wanted = set(self._handlers)
        changes = set(self._pending) if not force else wanted | self._pending
        self._pending.clear()
        add = sorted(c for c in changes if c in wanted and (force or c not in subscribed))
        remove = sorted(c for c in changes if c not in wanted and c in subscribed)
        if add:
            await pubsub.subscribe(*add)
            subscribed.update(add)
        if remove:
            await pubsub.unsubscribe(*remove)
            subscribed.difference_update(remove)
        for channel in remove:
            for waiter in self._confirmations.pop(channel, []):
                if not waiter.done():
                    waiter.set_result(None)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        channel = message.get("channel")
        name = channel.decode() if isinstance(channel, bytes) else str(channel)
        if kind == "subscribe":
            for waiter in self._confirmations.pop(name, []):
                if not waiter.done():
                    waiter.set_result(None)
            return
        if kind != "message":
            return
        data = message.get("data")
        if not isinstance(data, bytes) or data.startswith(self._origin):
            return  # our own message: delivered locally already
        _, sep, payload = data.partition(b"|")
        if not sep:
            return
        for handler in list(self._handlers.get(name, {}).values()):
            try:
                handler(payload)
            except Exception as exc:  # noqa: BLE001 - one bad handler never stops the others
                logger.warning("pubsub_handler_failed", channel=name, error=f"{type(exc).__name__}: {exc}")
