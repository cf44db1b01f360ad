"""The OpenAI chat completions wire format, shared by every adapter that speaks it (OpenAI and the
OpenAI-compatible providers through the ``openai`` SDK, Groq through its own SDK, the moderation
client): request options, chunks and answers read into the adapters' events, and errors mapped to
Parley's provider errors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import msgspec

from src.domain.llm.errors import (
    ContentBlocked,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from src.domain.llm.model import ChatRequest, FinishReason, Usage
from src.infrastructure.llm.base import ProviderAnswer, ProviderEvent, retry_after_seconds, timed_out, transport_error

_FINISH_REASONS = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "content_filter": FinishReason.CONTENT_FILTER,
    "tool_calls": FinishReason.STOP,
    "function_call": FinishReason.STOP,
}
_CONTEXT_TOO_LONG_CODES = {"context_length_exceeded", "string_above_max_length"}
_CONTEXT_TOO_LONG_WORDS = ("maximum context length", "context length", "reduce the length", "too many tokens")
_CONTENT_FILTER_CODES = {"content_filter", "content_policy_violation"}
_RATE_LIMIT_WORDS = ("rate_limit", "rate limit", "tokens_per_min", "requests_per_min")


def sampling_options(request: ChatRequest) -> dict[str, Any]:
    """``top_p``, ``seed`` and ``response_format`` when the request sets them (the gateway passes them on)."""
    options: dict[str, Any] = {}
    if request.top_p is not None:
        options["top_p"] = request.top_p
    if request.seed is not None:
        options["seed"] = request.seed
    if request.response_format is not None:
        options["response_format"] = dict(request.response_format)
    return options


def finish_reason(value: str | None) -> FinishReason | None:
    if value is None:
        return None
    return _FINISH_REASONS.get(value, FinishReason.STOP)


def usage_of(reported: Any) -> Usage | None:
    """``CompletionUsage`` (OpenAI and Groq alike) -> ``Usage``; cached and reasoning tokens when given."""
    if reported is None:
        return None
    prompt_details = getattr(reported, "prompt_tokens_details", None)
    completion_details = getattr(reported, "completion_tokens_details", None)
    return Usage(
        input_tokens=int(reported.prompt_tokens or 0),
        output_tokens=int(reported.completion_tokens or 0),
        cached_tokens=int(getattr(prompt_details, "cached_tokens", 0) or 0),
        reasoning_tokens=int(getattr(completion_details, "reasoning_tokens", 0) or 0),
    )


# -- streams read as lines: the chunks decoded by msgspec, no SDK model object per chunk ----------


class _WireDelta(msgspec.Struct):
    content: str | None = None


class _WireChoice(msgspec.Struct):
    delta: _WireDelta | None = None
    finish_reason: str | None = None


class _WireTokenDetails(msgspec.Struct):
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None


class _WireUsage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_tokens_details: _WireTokenDetails | None = None
    completion_tokens_details: _WireTokenDetails | None = None


class _WireGroq(msgspec.Struct):
    usage: _WireUsage | None = None


class WireChunk(msgspec.Struct):
    """One ``chat.completion.chunk`` as far as Parley reads it (unknown fields are skipped), or an
    ``{"error": ...}`` event."""

    choices: list[_WireChoice] = msgspec.field(default_factory=list)
    usage: _WireUsage | None = None
    #: Groq reports a stream's usage here on its last chunk.
    x_groq: _WireGroq | None = None
    error: Any = None


_CHUNKS = msgspec.json.Decoder(WireChunk)


class _WireMessage(msgspec.Struct):
    content: str | None = None


class _WireCompletionChoice(msgspec.Struct):
    message: _WireMessage | None = None
    finish_reason: str | None = None


class WireCompletion(msgspec.Struct):
    """A whole ``chat.completion`` as far as Parley reads it (``completion_answer`` takes it as it takes the
    SDKs' own), or an ``{"error": ...}`` body."""

    choices: list[_WireCompletionChoice] = msgspec.field(default_factory=list)
    usage: _WireUsage | None = None
    error: Any = None


_COMPLETIONS = msgspec.json.Decoder(WireCompletion)


def decode_completion(body: bytes, provider: str) -> WireCompletion:
    """The completion a successful answer holds; an error it holds instead raises the provider error it maps
    to, and a body that is not a completion ``ProviderUnavailable``."""
    try:
        completion = _COMPLETIONS.decode(body)
    except msgspec.DecodeError:
        raise ProviderUnavailable(f"{provider} sent an answer Parley could not read", provider=provider) from None
    if completion.error is not None:
        raise _from_error_in_answer(provider, _error_body({"error": completion.error}), where="in its answer")
    return completion


async def stream_chunks(lines: AsyncIterator[str], provider: str) -> AsyncIterator[WireChunk]:
    """The chunks of an OpenAI-format server-sent event stream, read line by line until ``[DONE]``.

    The SDKs' own stream classes build a pydantic model object for every chunk (most of the adapter's
    CPU in a profile at 20 concurrent streams); the chunks are small and their shape fixed, so they
    are decoded straight into ``WireChunk``. An error event (``event: error``, or data holding
    ``error``) raises the provider error it maps to; data that is not a chunk, ``ProviderUnavailable``.
    """
    event: str | None = None
    data: list[str] = []
    async for line in lines:
        if line:
            if line.startswith("data:"):
                data.append(line[6:] if line.startswith("data: ") else line[5:])
            elif line.startswith("event:"):
                event = line[6:].strip()
            continue  # comments (":" keep-alives) and other fields carry nothing
        if not data:
            event = None
            continue
        payload, errored = "\n".join(data), event == "error"
        data, event = [], None
        if payload == "[DONE]":
            # Read to the end of the body (the chunked terminator): a response closed before it is
            # fully read takes its keep-alive connection with it, and the next call opens another.
            async for _ in lines:
                pass
            return
        try:
            if errored:  # the data is the error (or holds it)
                raise _from_error_in_answer(provider, _error_body(msgspec.json.decode(payload)))
            chunk = _CHUNKS.decode(payload)
        except msgspec.DecodeError:
            raise ProviderUnavailable(
                f"{provider} sent a stream event Parley could not read", provider=provider
            ) from None
        if chunk.error is not None:
            raise _from_error_in_answer(provider, _error_body({"error": chunk.error}))
        yield chunk


async def sse_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """The lines of a response body read in pieces of any size (``\\n`` or ``\\r\\n`` ends a line; no
    length limit, unlike aiohttp's own line reader)."""
    pending = b""
    async for data in chunks:
        lines = (pending + data).split(b"\n")
        pending = lines.pop()
        for line in lines:
            yield line.removesuffix(b"\r").decode()
    if pending:
        yield pending.removesuffix(b"\r").decode()


def status_error(provider: str, status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
    """The provider error of an HTTP error response read as it is (the SDKs' ``APIStatusError`` carries
    the same status, body and headers)."""
    try:
        decoded: object = msgspec.json.decode(body)
    except msgspec.DecodeError:
        decoded = None
    return _from_status(provider, status, _error_body(decoded), headers)


def chunk_event(chunk: Any) -> ProviderEvent:
    event = ProviderEvent(usage=usage_of(getattr(chunk, "usage", None)))
    if chunk.choices:
        choice = chunk.choices[0]
        delta = getattr(choice, "delta", None)
        event.text = (getattr(delta, "content", None) or "") if delta is not None else ""
        event.finish_reason = finish_reason(choice.finish_reason)
    return event


def completion_answer(completion: Any) -> ProviderAnswer:
    if not completion.choices:
        raise ProviderUnavailable("the provider answered with no choices")
    choice = completion.choices[0]
    return ProviderAnswer(
        text=(choice.message.content or "") if choice.message is not None else "",
        finish_reason=finish_reason(choice.finish_reason) or FinishReason.STOP,
        usage=usage_of(completion.usage),
    )


def map_openai_style_error(exc: Exception, provider: str, sdk: Any) -> ProviderError:
    """An exception of the ``openai`` or ``groq`` SDK (same class names, same wire format)."""
    if isinstance(exc, sdk.APITimeoutError) and timed_out(exc):
        return ProviderTimeout(f"{provider} did not answer in time", provider=provider)
    if isinstance(exc, sdk.APIConnectionError):
        return ProviderUnavailable(f"the connection to {provider} failed", provider=provider)
    if isinstance(exc, sdk.APIResponseValidationError):
        return ProviderUnavailable(f"{provider} sent an answer Parley could not read", provider=provider)
    if isinstance(exc, sdk.APIStatusError):
        return _from_status(provider, exc.status_code, _error_body(exc.body), exc.response.headers)
    if isinstance(exc, sdk.APIError):
        # An error event inside a stream (``data: {"error": {...}}``): no status, only the body.
        return _from_error_in_answer(provider, _error_body(exc.body))
    return transport_error(exc, provider)


def _error_body(body: object) -> dict[str, Any]:
    """The ``error`` object of an error response or event (the SDKs hand over either one)."""
    if isinstance(body, dict):
        inner = body.get("error")
        return inner if isinstance(inner, dict) else body
    return {}


def _text(error: Mapping[str, Any], key: str) -> str:
    value = error.get(key)
    return value.lower() if isinstance(value, str) else ""


def _from_status(provider: str, status: int, error: Mapping[str, Any], headers: Mapping[str, str]) -> ProviderError:
    code, message = _text(error, "code"), _text(error, "message")
    if status in (401, 403):
        return ProviderAuthError(f"{provider} refused Parley's API key ({status})", provider=provider)
    if status == 429:
        if code == "insufficient_quota":
            return ProviderAuthError(f"the {provider} account has no quota left", provider=provider)
        return ProviderRateLimited(
            f"{provider} is rate limiting Parley", provider=provider, retry_after=retry_after_seconds(headers)
        )
    if status == 408:
        return ProviderTimeout(f"{provider} timed out ({status})", provider=provider)
    if status == 409 or status >= 500:
        return ProviderUnavailable(f"{provider} failed ({status})", provider=provider)
    return _rejected(provider, status, code, message)


def _from_error_in_answer(provider: str, error: Mapping[str, Any], *, where: str = "while streaming") -> ProviderError:
    """An error a 200 answer holds: an event of a stream, or (``where``) a whole answer's body."""
    code, kind, message = _text(error, "code"), _text(error, "type"), _text(error, "message")
    if any(word in f"{code} {kind}" for word in _RATE_LIMIT_WORDS):
        return ProviderRateLimited(f"{provider} is rate limiting Parley", provider=provider)
    if kind in {"authentication_error", "permission_error"} or code == "invalid_api_key":
        return ProviderAuthError(f"{provider} refused Parley's API key", provider=provider)
    if kind == "invalid_request_error" or code in _CONTEXT_TOO_LONG_CODES | _CONTENT_FILTER_CODES:
        return _rejected(provider, None, code, message)
    return ProviderUnavailable(f"{provider} failed {where} ({code or kind or 'error'})", provider=provider)


def _rejected(provider: str, status: int | None, code: str, message: str) -> ProviderError:
    if status == 413 or code in _CONTEXT_TOO_LONG_CODES or any(w in message for w in _CONTEXT_TOO_LONG_WORDS):
        return ProviderBadRequest(
            f"the conversation is longer than the model's context window ({provider})",
            provider=provider,
            context_too_long=True,
        )
    if code in _CONTENT_FILTER_CODES:
        return ContentBlocked(f"{provider}'s content filter refused this request", provider=provider)
    if status == 404:
        return ProviderBadRequest(f"{provider} does not serve this model (404)", provider=provider)
    suffix = f" ({code})" if code else f" ({status})" if status else ""
    return ProviderBadRequest(f"{provider} rejected the request{suffix}", provider=provider)
