"""What every network provider adapter shares: timing, timeouts, the stream contract, honest usage.

An adapter implements three things: ``_events`` (an async generator that sends the streaming call,
yields each chunk parsed into a ``ProviderEvent``, and closes the HTTP response in its ``finally``),
``_complete`` (the non-streaming call) and ``_map_error`` (its SDK's exceptions -> ``ProviderError``).
This base turns them into the ``ChatModel`` port:

- Before the first delta a failure is raised; after it the stream ends with a ``StreamEnd`` whose
  ``finish_reason`` is ``error`` (code and detail of the mapped error), and the text sent stands.
- No chunk for ``stream_idle`` seconds (``read`` before the first one), or the call's deadline
  (the request's, or ``total`` seconds after the start) passing, is ``ProviderTimeout``.
- A stream that ends before the provider said it finished is ``ProviderUnavailable`` (interrupted).
- Usage the provider did not report (or reported as zero for text that exists) is estimated and
  flagged, so nothing is ever recorded as free.
- Closing the iterator (``aclose()``), or cancelling the task reading it, closes the HTTP response
  at once: the provider sees the connection close and stops generating.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import math
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass

from src.application.shared.ports import Clock
from src.domain.llm.errors import ProviderError, ProviderTimeout, ProviderUnavailable, UnknownModel
from src.domain.llm.model import (
    ChatRequest,
    Chunk,
    Completion,
    FinishReason,
    StreamEnd,
    TextDelta,
    Usage,
    estimate_prompt_tokens,
    estimate_tokens,
)
from src.infrastructure.logging import get_logger

logger = get_logger("parley.llm")


@dataclass(frozen=True, slots=True)
class ProviderTimeouts:
    """Seconds. ``connect`` to open a connection; ``read`` between bytes and until the first chunk;
    ``stream_idle`` between two chunks of a started stream; ``total`` for a whole call when the
    request sets no earlier deadline."""

    connect: float = 5.0
    read: float = 60.0
    total: float = 300.0
    stream_idle: float = 30.0


@dataclass(slots=True)
class ProviderEvent:
    """One chunk of a provider's stream, as the adapter understood it."""

    text: str = ""
    finish_reason: FinishReason | None = None
    #: Usage as the provider reported it so far (the last report wins: never add reports up).
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class ProviderAnswer:
    """A non-streamed answer."""

    text: str
    finish_reason: FinishReason
    usage: Usage | None


class ProviderAdapter(abc.ABC):
    """A ``ChatModel`` for the models of one provider (``request.model`` is ``<provider>/<name>``)."""

    #: The catalog's provider name (a class attribute; an adapter serving several providers sets it per instance).
    provider: str

    def __init__(self, clock: Clock, timeouts: ProviderTimeouts) -> None:
        self._clock = clock
        self._timeouts = timeouts

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Close the long-lived HTTP client (at container shutdown)."""

    @abc.abstractmethod
    def _events(self, request: ChatRequest, model: str) -> AsyncGenerator[ProviderEvent, None]:
        """Send the streaming call and yield its chunks; close the response in ``finally``."""

    @abc.abstractmethod
    async def _complete(self, request: ChatRequest, model: str) -> ProviderAnswer: ...

    @abc.abstractmethod
    def _map_error(self, exc: Exception) -> ProviderError:
        """This provider's SDK exception as a domain error (anything unknown: ``ProviderUnavailable``)."""

    # -- the port ------------------------------------------------------------------------------

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        model = self._model_name(request)
        started = self._clock.monotonic()
        deadline = self._deadline(request, started)
        events = self._events(request, model)
        watchdog = _Watchdog()
        parts: list[str] = []
        reported: Usage | None = None
        finish: FinishReason | None = None
        ttft_ms: int | None = None
        try:
            while True:
                try:
                    event = await self._next(events, watchdog, deadline, first=not parts)
                except StopAsyncIteration:
                    break
                except ProviderError as error:
                    if finish is not None:
                        break  # it had finished: only the usage report after it was lost
                    if not parts:
                        raise
                    yield self._end(request, model, started, ttft_ms, parts, reported, FinishReason.ERROR, error)
                    return
                if event.usage is not None:
                    reported = event.usage
                if event.finish_reason is not None:
                    finish = event.finish_reason
                if event.text:
                    if ttft_ms is None:
                        ttft_ms = self._elapsed_ms(started)
                    parts.append(event.text)
                    yield TextDelta(event.text)
            if finish is None:
                interrupted = ProviderUnavailable(
                    f"{self.provider} ended the stream before the model finished", provider=self.provider
                )
                if not parts:
                    raise interrupted
                yield self._end(request, model, started, ttft_ms, parts, reported, FinishReason.ERROR, interrupted)
                return
            yield self._end(request, model, started, ttft_ms, parts, reported, finish, None)
        finally:
            watchdog.close()
            # Closes the HTTP response at once when the caller stops reading or is cancelled.
            await close_quietly(events.aclose())

    async def complete(self, request: ChatRequest) -> Completion:
        model = self._model_name(request)
        started = self._clock.monotonic()
        remaining = self._deadline(request, started) - started
        if remaining <= 0:
            raise ProviderTimeout("the request's deadline has passed", provider=self.provider)
        try:
            async with asyncio.timeout(remaining):
                answer = await self._complete(request, model)
        except ProviderError:
            raise
        except TimeoutError as exc:
            raise self._timed_out(exc, remaining) from None
        except Exception as exc:
            raise self._mapped(exc) from exc
        latency_ms = self._elapsed_ms(started)
        return Completion(
            text=answer.text,
            finish_reason=answer.finish_reason,
            usage=honest_usage(answer.usage, request, answer.text),
            provider=self.provider,
            model=model,
            latency_ms=latency_ms,
            ttft_ms=latency_ms if answer.text else None,
        )

    # -- helpers ------------------------------------------------------------------------------

    def _model_name(self, request: ChatRequest) -> str:
        model_id = request.model_id
        if model_id.provider != self.provider:
            raise UnknownModel(
                f"the {self.provider} adapter cannot answer for {request.model!r}", extra={"model": request.model}
            )
        return model_id.name

    def _deadline(self, request: ChatRequest, started: float) -> float:
        own = started + self._timeouts.total
        return own if request.deadline is None else min(own, request.deadline)

    async def _next(
        self, events: AsyncGenerator[ProviderEvent, None], watchdog: _Watchdog, deadline: float, *, first: bool
    ) -> ProviderEvent:
        """The next event within the idle time and the deadline, SDK errors mapped."""
        idle = max(self._timeouts.read, self._timeouts.stream_idle) if first else self._timeouts.stream_idle
        remaining = deadline - self._clock.monotonic()
        wait = min(idle, remaining)
        if wait <= 0:
            raise ProviderTimeout("the call's deadline passed", provider=self.provider)
        watchdog.start_wait(wait)
        try:
            return await anext(events)
        except (StopAsyncIteration, ProviderError):
            raise
        except asyncio.CancelledError:
            if watchdog.expired():
                raise self._timed_out(TimeoutError(), wait, idle=idle < remaining) from None
            raise
        except Exception as exc:
            raise self._mapped(exc) from exc
        finally:
            watchdog.end_wait()

    def _timed_out(self, exc: TimeoutError, waited: float, *, idle: bool = False) -> ProviderError:
        if type(exc) is not TimeoutError:  # an SDK's own timeout error that subclasses TimeoutError
            return self._mapped(exc)
        what = "sent nothing" if idle else "did not finish"
        return ProviderTimeout(f"{self.provider} {what} for {waited:.3g} s", provider=self.provider)

    def _mapped(self, exc: Exception) -> ProviderError:
        error = self._map_error(exc)
        logger.warning(
            "llm_provider_error",
            provider=self.provider,
            code=error.code,
            error_type=type(exc).__name__,
            status=getattr(exc, "status_code", None) or getattr(exc, "code", None),
        )
        return error

    def _end(
        self,
        request: ChatRequest,
        model: str,
        started: float,
        ttft_ms: int | None,
        parts: list[str],
        reported: Usage | None,
        finish: FinishReason,
        error: ProviderError | None,
    ) -> StreamEnd:
        return StreamEnd(
            finish_reason=finish,
            usage=honest_usage(reported, request, "".join(parts)),
            provider=self.provider,
            model=model,
            latency_ms=self._elapsed_ms(started),
            ttft_ms=ttft_ms,
            error_code=None if error is None else error.code,
            error_detail=None if error is None else error.detail,
        )

    def _elapsed_ms(self, started: float) -> int:
        return round((self._clock.monotonic() - started) * 1000)


class _Watchdog:
    """Cancels the reading task when it has waited on the provider longer than its limit.

    Like ``asyncio.timeout`` around each wait, but with one timer per stream rather than one per
    chunk: a timer already due before the new limit is kept, and re-armed when it fires early. It
    only ever cancels a task that is waiting on the provider, never one busy elsewhere between chunks.
    """

    __slots__ = ("_cancelling", "_expired", "_handle", "_limit_at", "_loop", "_task")

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[object] | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._limit_at = 0.0
        self._cancelling = 0
        self._expired = False

    def start_wait(self, seconds: float) -> None:
        loop = self._loop = self._loop or asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._limit_at = loop.time() + seconds
        if self._handle is None or self._handle.when() > self._limit_at:
            if self._handle is not None:
                self._handle.cancel()
            self._handle = loop.call_at(self._limit_at, self._check)

    def end_wait(self) -> None:
        self._task = None

    def _check(self) -> None:
        self._handle = None
        task, loop = self._task, self._loop
        if task is None or loop is None:
            return  # not waiting now: the next wait arms the timer again
        if loop.time() >= self._limit_at:
            self._expired = True
            self._cancelling = task.cancelling()
            task.cancel()
        else:
            self._handle = loop.call_at(self._limit_at, self._check)

    def expired(self) -> bool:
        """Whether the cancellation being handled is this watchdog's (and no one else's too)."""
        if not self._expired or self._task is None:
            return False
        self._expired = False
        return self._task.uncancel() <= self._cancelling

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


async def close_quietly(closing: Awaitable[object]) -> None:
    """Close a response or stream; a failure to close (the connection is already broken) is no error."""
    try:
        await closing
    except Exception as exc:  # noqa: BLE001 - closing what failed must not raise an SDK error
        logger.debug("llm_close_failed", error_type=type(exc).__name__)


def honest_usage(reported: Usage | None, request: ChatRequest, output_text: str) -> Usage:
    """The provider's figures where it gave them; estimates (flagged) where it gave none, or gave
    zero for a prompt or an answer that is not empty."""
    if reported is None:
        return Usage(
            input_tokens=estimate_prompt_tokens(request.messages),
            output_tokens=estimate_tokens(output_text),
            estimated=True,
        )
    usage = reported
    if usage.input_tokens <= 0 and request.messages:
        usage = dataclasses.replace(usage, input_tokens=estimate_prompt_tokens(request.messages), estimated=True)
    if usage.output_tokens <= 0 and output_text:
        usage = dataclasses.replace(usage, output_tokens=estimate_tokens(output_text), estimated=True)
    return usage


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """``retry-after-ms`` or ``retry-after`` (seconds; an HTTP date is ignored) from response headers."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


def timed_out(exc: BaseException) -> bool:
    """Whether a timeout error an SDK raised is one. The SDKs' aiohttp transport maps every aiohttp
    connection error to a connect timeout (``ClientConnectionError`` comes first in its map): a
    refused, reset or broken-off connection is read from the aiohttp error it was raised from."""
    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        if _of_aiohttp(cause):
            return isinstance(cause, TimeoutError)
        cause = cause.__cause__ or cause.__context__
    return True


def transport_error(exc: Exception, provider: str) -> ProviderError:
    """Errors of the HTTP layer (httpx or httpx2 that an SDK let through, aiohttp where an adapter calls
    it itself), and anything else."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    of_aiohttp = _of_aiohttp(exc)
    if ("TimeoutException" in names and timed_out(exc)) or (of_aiohttp and isinstance(exc, TimeoutError)):
        return ProviderTimeout(f"{provider} did not answer in time", provider=provider)
    if of_aiohttp or names & {"TransportError", "StreamError", "JSONDecodeError", "ValidationError"}:
        return ProviderUnavailable(f"{provider} broke off or sent something unreadable", provider=provider)
    return ProviderUnavailable(f"{provider} failed ({type(exc).__name__})", provider=provider)


def _of_aiohttp(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] == "aiohttp"
