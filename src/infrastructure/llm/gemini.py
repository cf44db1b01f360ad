"""Google Gemini through the official ``google-genai`` SDK (the Gemini Developer API, ``v1beta``).

The SDK builds ``{GEMINI_BASE_URL}/v1beta/models/{model}:generateContent`` and
``...:streamGenerateContent?alt=sse`` from ``HttpOptions(base_url, api_version)`` and sends the key
as ``x-goog-api-key``. Parley hands it its own long-lived ``httpx2`` client, whose transport:

- sets connect and read timeouts on every request (the SDK itself knows only one total timeout,
  and sends none when it is not set), and
- notes each response in the calling task's context, so that closing a stream closes its HTTP
  response at once (the SDK nests several generators and leaves closing them to the garbage collector).

SDK retries are off (``HttpRetryOptions(attempts=1)``), and so are its automatic continuation of a
broken stream and automatic function calling: Parley owns retries. The system prompt goes in
``system_instruction`` and roles are mapped (assistant -> ``model``). Streamed ``usageMetadata`` is
cumulative: the last report is kept, never summed; ``thoughtsTokenCount`` counts as output (and as
reasoning tokens). A bad key arrives as 400 ``API_KEY_INVALID`` and is a ``ProviderAuthError``.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import httpx2
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from src.application.shared.ports import Clock
from src.domain.llm.errors import (
    ContentBlocked,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from src.domain.llm.model import ChatRequest, FinishReason, MessageRole, Usage
from src.infrastructure.llm.base import (
    ProviderAdapter,
    ProviderAnswer,
    ProviderEvent,
    ProviderTimeouts,
    close_quietly,
    retry_after_seconds,
    transport_error,
)

PROVIDER = "gemini"
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
API_VERSION = "v1beta"

_FINISH_REASONS: dict[str, FinishReason] = {
    "STOP": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    **dict.fromkeys(
        (
            "SAFETY",
            "RECITATION",
            "BLOCKLIST",
            "PROHIBITED_CONTENT",
            "SPII",
            "IMAGE_SAFETY",
            "IMAGE_PROHIBITED_CONTENT",
            "IMAGE_RECITATION",
            "MODEL_ARMOR",
        ),
        FinishReason.CONTENT_FILTER,
    ),
}
_ROLES = {MessageRole.USER: "user", MessageRole.ASSISTANT: "model"}
_AUTH_REASONS = {"API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED", "SERVICE_DISABLED"}
_CONTEXT_TOO_LONG = re.compile(r"token count .*exceeds|exceeds the maximum number of tokens|input .*too long", re.I)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")

#: The HTTP responses opened by the current call (one list per call, in the calling task's context).
_OPEN_RESPONSES: contextvars.ContextVar[list[httpx2.Response] | None] = contextvars.ContextVar(
    "parley_gemini_open_responses", default=None
)


class _ParleyTransport(httpx2.AsyncBaseTransport):
    """Connect/read timeouts on every request; each response noted for the call that opened it."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, timeouts: ProviderTimeouts) -> None:
        self._inner = inner
        self._timeouts = {
            "connect": timeouts.connect,
            "read": timeouts.read,
            "write": timeouts.read,
            "pool": timeouts.connect,
        }

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        request.extensions = {**request.extensions, "timeout": self._timeouts}
        response = await self._inner.handle_async_request(request)
        opened = _OPEN_RESPONSES.get()
        if opened is not None:
            opened.append(response)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class GeminiChatModel(ProviderAdapter):
    provider = PROVIDER

    def __init__(self, clock: Clock, timeouts: ProviderTimeouts, *, api_key: str, base_url: str | None) -> None:
        super().__init__(clock, timeouts)
        self._http = httpx2.AsyncClient(
            transport=_ParleyTransport(httpx2.AsyncHTTPTransport(), timeouts), follow_redirects=False
        )
        self._sync_http = httpx2.Client(timeout=httpx2.Timeout(timeouts.read, connect=timeouts.connect))
        self._client = genai.Client(
            vertexai=False,
            api_key=api_key,
            http_options=genai_types.HttpOptions(
                base_url=base_url or DEFAULT_BASE_URL,
                api_version=API_VERSION,
                retry_options=genai_types.HttpRetryOptions(attempts=1),
                httpx_async_client=self._http,
                httpx_client=self._sync_http,
            ),
        )

    async def aclose(self) -> None:
        await self._client.aio.aclose()
        await self._http.aclose()
        self._sync_http.close()

    def _config(self, request: ChatRequest) -> genai_types.GenerateContentConfig:
        return genai_types.GenerateContentConfig(
            system_instruction=request.system_prompt,
            temperature=request.temperature,
            top_p=request.top_p,
            seed=request.seed,
            # OpenAI's JSON mode is Gemini's JSON response type.
            response_mime_type="application/json"
            if (request.response_format or {}).get("type") in ("json_object", "json_schema")
            else None,
            max_output_tokens=request.max_output_tokens,
            stop_sequences=list(request.stop) or None,
            automatic_function_calling=genai_types.AutomaticFunctionCallingConfig(disable=True),
            automatic_continuation=False,
        )

    @staticmethod
    def _contents(request: ChatRequest) -> list[genai_types.ContentDict]:
        # Typed as the SDK's ContentDict: with Pillow installed its accepted union grows (PIL images),
        # and a plain list of dicts no longer matches it.
        return [{"role": _ROLES[m.role], "parts": [{"text": m.content}]} for m in request.conversation]

    async def _events(self, request: ChatRequest, model: str) -> AsyncGenerator[ProviderEvent, None]:
        opened: list[httpx2.Response] = []
        token = _OPEN_RESPONSES.set(opened)
        stream: Any = None
        try:
            stream = await self._client.aio.models.generate_content_stream(
                model=model, contents=self._contents(request), config=self._config(request)
            )
            async for response in stream:
                yield response_event(response)
        finally:
            # Close this call's response first: the provider sees the connection close at once.
            for response in opened:
                await close_quietly(response.aclose())
            if stream is not None:
                await close_quietly(stream.aclose())
            # ValueError: finalised from another context (by the garbage collector): nothing to restore.
            with contextlib.suppress(ValueError):
                _OPEN_RESPONSES.reset(token)

    async def _complete(self, request: ChatRequest, model: str) -> ProviderAnswer:
        response = await self._client.aio.models.generate_content(
            model=model, contents=self._contents(request), config=self._config(request)
        )
        event = response_event(response)
        finish = event.finish_reason or FinishReason.STOP
        return ProviderAnswer(text=event.text, finish_reason=finish, usage=event.usage)

    def _map_error(self, exc: Exception) -> ProviderError:
        return map_gemini_error(exc)


def response_event(response: genai_types.GenerateContentResponse) -> ProviderEvent:
    """One ``GenerateContentResponse`` (a whole answer, or one chunk of a stream) as an event."""
    candidates = response.candidates or []
    feedback = response.prompt_feedback
    if not candidates and feedback is not None and feedback.block_reason is not None:
        raise ContentBlocked(f"gemini blocked the prompt ({_enum_name(feedback.block_reason)})", provider=PROVIDER)
    event = ProviderEvent(usage=usage_of(response.usage_metadata))
    if candidates:
        candidate = candidates[0]
        parts = candidate.content.parts if candidate.content is not None else None
        # Thought summaries (``thought: true``) are not part of the answer.
        event.text = "".join(p.text for p in parts or [] if p.text and not p.thought)
        if candidate.finish_reason is not None:
            name = _enum_name(candidate.finish_reason)
            if name not in {"FINISH_REASON_UNSPECIFIED", "CONTINUATION"}:
                event.finish_reason = _FINISH_REASONS.get(name, FinishReason.STOP)
    return event


def usage_of(metadata: genai_types.GenerateContentResponseUsageMetadata | None) -> Usage | None:
    if metadata is None:
        return None
    thoughts = metadata.thoughts_token_count or 0
    return Usage(
        input_tokens=(metadata.prompt_token_count or 0) + (metadata.tool_use_prompt_token_count or 0),
        output_tokens=(metadata.candidates_token_count or 0) + thoughts,
        cached_tokens=metadata.cached_content_token_count or 0,
        reasoning_tokens=thoughts,
    )


def map_gemini_error(exc: Exception) -> ProviderError:
    if isinstance(exc, genai_errors.APIError):
        return _from_api_error(exc)
    if isinstance(exc, genai_errors.UnknownApiResponseError):
        return ProviderUnavailable("gemini sent an answer Parley could not read", provider=PROVIDER)
    return transport_error(exc, PROVIDER)


def _from_api_error(exc: genai_errors.APIError) -> ProviderError:
    status = exc.code if isinstance(exc.code, int) else 0
    rpc = (exc.status or "").upper()
    message = exc.message or ""
    details = _details(exc.details)
    reasons = {str(d.get("reason")) for d in details if d.get("reason")}
    if reasons & _AUTH_REASONS or status in (401, 403) or rpc in {"UNAUTHENTICATED", "PERMISSION_DENIED"}:
        return ProviderAuthError(f"gemini refused Parley's API key ({status} {rpc})".strip(), provider=PROVIDER)
    if status == 429 or rpc == "RESOURCE_EXHAUSTED":
        headers = getattr(exc.response, "headers", None)
        retry_after = retry_after_seconds(headers) if isinstance(headers, Mapping) else None
        return ProviderRateLimited(
            "gemini is rate limiting Parley",
            provider=PROVIDER,
            retry_after=retry_after if retry_after is not None else _retry_delay(details),
        )
    if status in (408, 504) or rpc == "DEADLINE_EXCEEDED":
        return ProviderTimeout(f"gemini timed out ({status} {rpc})".strip(), provider=PROVIDER)
    if status >= 500 or rpc in {"INTERNAL", "UNAVAILABLE"}:
        return ProviderUnavailable(f"gemini failed ({status} {rpc})".strip(), provider=PROVIDER)
    if _CONTEXT_TOO_LONG.search(message):
        return ProviderBadRequest(
            "the conversation is longer than the model's context window (gemini)",
            provider=PROVIDER,
            context_too_long=True,
        )
    if rpc == "FAILED_PRECONDITION":
        # Billing not enabled, or a region the free tier does not serve: the operator's to fix.
        return ProviderAuthError("gemini refuses this account's requests (FAILED_PRECONDITION)", provider=PROVIDER)
    if status == 404:
        return ProviderBadRequest("gemini does not serve this model (404)", provider=PROVIDER)
    return ProviderBadRequest(f"gemini rejected the request ({status} {rpc})".strip(), provider=PROVIDER)


def _details(body: Any) -> list[dict[str, Any]]:
    """The ``error.details`` entries of a Google API error body."""
    if not isinstance(body, dict):
        return []
    error = body.get("error", body)
    details = error.get("details") if isinstance(error, dict) else None
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _retry_delay(details: list[dict[str, Any]]) -> float | None:
    """``google.rpc.RetryInfo``'s ``retryDelay`` (``"13s"``), in seconds."""
    for detail in details:
        delay = detail.get("retryDelay")
        if isinstance(delay, str) and (match := _DURATION.match(delay)):
            return float(match.group(1))
    return None


def _enum_name(value: Any) -> str:
    return str(getattr(value, "value", value))
