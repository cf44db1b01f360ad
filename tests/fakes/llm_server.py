"""A local HTTP server that speaks OpenAI's, Groq's and Gemini's wire formats, scripted per test.

It is a real server (asyncio streams, HTTP/1.1 with keep-alive and chunked streaming) on a spare
loopback port, running in its own thread, so the real SDKs talk to it through their real HTTP stack:

- OpenAI: ``POST /v1/chat/completions`` (JSON, or SSE ending with ``data: [DONE]``; the usage chunk
  with ``choices: []`` only when the request asks for it with ``stream_options.include_usage``);
- Groq: ``POST /openai/v1/chat/completions``, the same with ``x_groq`` (its id on the first chunk, its
  usage on the last one);
- OpenAI moderation: ``POST /v1/moderations`` (``results[0]`` with ``categories`` and
  ``category_scores`` from ``Reply.moderation``; all zero by default);
- Gemini: ``POST /v1beta/models/{model}:generateContent`` and ``:streamGenerateContent?alt=sse`` (no
  ``[DONE]``; ``usageMetadata`` on every chunk, cumulative).

Each provider has a queue of ``Reply`` scripts; a request takes the next one (``Reply()``, a normal
answer, when the queue is empty). A reply can fail with any status and the provider's own error body,
cut the connection mid-stream, stall, send an error event inside the stream, or leave usage out.
Every request is recorded with its headers and JSON body, and whether the client hung up before the
response was complete (``Recorded.disconnected``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

Provider = Literal["openai", "groq", "gemini"]
PROVIDERS: tuple[Provider, ...] = ("openai", "groq", "gemini")

OPENAI_STATUS_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}
GEMINI_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass
class Reply:
    """What the fake answers to one request."""

    text: str = "Hello from the fake provider, streamed word by word."
    status: int = 200
    #: Error replies: the provider-style body is built from these (or given whole in ``body``, which a whole
    #: 200 answer sends as it is too).
    error_code: str | None = None
    error_message: str = "scripted failure"
    error_reason: str | None = None  # Gemini: an ErrorInfo ``reason`` such as API_KEY_INVALID
    retry_after: str | None = None  # the Retry-After header
    retry_delay: str | None = None  # Gemini: a RetryInfo ``retryDelay`` such as "7s"
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Usage figures (completion tokens: one per chunk unless given).
    prompt_tokens: int = 17
    completion_tokens: int | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    #: False: no usage at all (no usage chunk, no x_groq usage, no usageMetadata).
    send_usage: bool = True
    #: Groq: where the usage goes.
    groq_usage: Literal["x_groq", "chunk", "both"] = "both"
    #: The provider-neutral finish reason (stop, length, content_filter); None: never sent.
    finish_reason: str | None = "stop"
    #: Streams: break the connection after this many text chunks (no final chunk).
    cut_after: int | None = None
    #: Streams: stop sending after this many text chunks and keep the connection open.
    stall_after: int | None = None
    #: Streams: an ``{"error": ...}`` event after this many text chunks, then the stream ends.
    error_event_after: int | None = None
    error_event_type: str = "server_error"
    #: Seconds between chunks (and before the response, for JSON).
    chunk_delay: float = 0.0
    #: Gemini: a prompt blocked by the safety filters (no candidates).
    prompt_blocked: str | None = None
    #: OpenAI moderation: category_scores by OpenAI's category names (``self-harm/intent``, ...).
    moderation: dict[str, float] = field(default_factory=dict)

    @classmethod
    def failing(cls, status: int, **kwargs: Any) -> Reply:
        return cls(status=status, **kwargs)

    @classmethod
    def gemini_bad_key(cls) -> Reply:
        return cls(
            status=400,
            error_message="API key not valid. Please pass a valid API key.",
            error_reason="API_KEY_INVALID",
        )

    def chunks(self) -> list[str]:
        words = self.text.split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words) if w or i == 0]

    def completion_count(self) -> int:
        return self.completion_tokens if self.completion_tokens is not None else len(self.chunks())


@dataclass
class Recorded:
    provider: Provider
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    stream: bool
    reply: Reply
    #: Text chunks written to the client so far.
    chunks_sent: int = 0
    disconnected: threading.Event = field(default_factory=threading.Event)
    completed: threading.Event = field(default_factory=threading.Event)


class FakeProviderServer:
    """``with FakeProviderServer() as server:`` serves on ``server.base_url`` until the block ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[Provider, deque[Reply]] = {p: deque() for p in PROVIDERS}
        self.requests: list[Recorded] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._stopping: asyncio.Event | None = None
        self.port = 0
        #: TCP connections accepted so far (keep-alive reuse shows as fewer connections than requests).
        self.connections = 0

    # -- the test's side ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.base_url}/v1"

    def script(self, provider: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts[_provider(provider)].extend(replies)

    def requests_for(self, provider: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.provider == provider]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            for queue in self._scripts.values():
                queue.clear()

    def wait_for_requests(self, provider: str, count: int, timeout: float = 10.0) -> list[Recorded]:
        """Block until ``count`` requests for ``provider`` have arrived (a bounded wait, not a timing check)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.requests_for(provider)
            if len(found) >= count:
                return found
            time.sleep(0.005)
        raise AssertionError(f"{count} {provider} request(s) expected, {len(self.requests_for(provider))} arrived")

    def __enter__(self) -> FakeProviderServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._stopping = asyncio.Event()

            async def main() -> None:
                self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
                self.port = self._server.sockets[0].getsockname()[1]
                ready.set()
                assert self._stopping is not None
                await self._stopping.wait()
                self._server.close()
                for writer in list(self._writers):
                    writer.transport.abort()
                await self._server.wait_closed()

            loop.run_until_complete(main())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-llm-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake provider server did not start")

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(10)

    # -- the server's side ---------------------------------------------------------------------------

    def _next_reply(self, provider: Provider) -> Reply:
        with self._lock:
            queue = self._scripts[provider]
            return queue.popleft() if queue else Reply()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self.connections += 1
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                if not await self._respond(request, reader, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _respond(
        self,
        request: tuple[str, str, dict[str, str], bytes],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Answer one request; ``False`` when the connection is to be dropped."""
        method, target, headers, raw = request
        path, _, query = target.partition("?")
        provider, model, stream = _route(path, query)
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = {}
        if provider is None:
            await _send_json(writer, 404, {"error": {"message": f"no route {path}"}})
            return True
        if provider != "gemini":
            stream = bool(body.get("stream"))
            model = str(body.get("model", ""))
        reply = self._next_reply(provider)
        recorded = Recorded(provider, method, target, headers, body, stream, reply)
        with self._lock:
            self.requests.append(recorded)
        if reply.status != 200:
            if reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
            headers = dict(reply.headers)
            if reply.retry_after is not None:
                headers["retry-after"] = reply.retry_after
            await _send_json(writer, reply.status, _error_body(provider, reply), headers)
            recorded.completed.set()
            return True
        if path == "/v1/moderations":
            await _send_json(writer, 200, _moderation_answer(reply), reply.headers)
            recorded.completed.set()
            return True
        if not stream:
            if reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
            answer = reply.body if reply.body is not None else _whole_answer(provider, model, reply)
            await _send_json(writer, 200, answer, reply.headers)
            recorded.completed.set()
            return True
        return await self._stream(provider, model, body, reply, recorded, reader, writer)

    async def _stream(
        self,
        provider: Provider,
        model: str,
        body: dict[str, Any],
        reply: Reply,
        recorded: Recorded,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
        writer.write((head + "transfer-encoding: chunked\r\n\r\n").encode())
        await writer.drain()
        # The client sends nothing while it reads a response: an EOF here means it hung up.
        hung_up = asyncio.ensure_future(reader.read(1))
        try:
            events = _stream_events(provider, model, body, reply)
            sent_text = 0
            for kind, payload in events:
                if hung_up.done():
                    recorded.disconnected.set()
                    return False
                if kind == "text":
                    if reply.cut_after is not None and sent_text >= reply.cut_after:
                        writer.transport.abort()
                        return False
                    if reply.stall_after is not None and sent_text >= reply.stall_after:
                        await self._wait_hang_up(hung_up, recorded)
                        return False
                    if reply.error_event_after is not None and sent_text >= reply.error_event_after:
                        await _send_chunk(writer, _sse(_error_event(provider, reply)))
                        break
                    if reply.chunk_delay and sent_text:
                        await asyncio.wait({hung_up}, timeout=reply.chunk_delay)
                        if hung_up.done():
                            recorded.disconnected.set()
                            return False
                await _send_chunk(writer, payload)
                if kind == "text":
                    sent_text += 1
                    recorded.chunks_sent = sent_text
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            recorded.completed.set()
            return True
        except ConnectionError:
            recorded.disconnected.set()
            return False
        finally:
            if not hung_up.done():
                hung_up.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await hung_up

    async def _wait_hang_up(self, hung_up: asyncio.Future[bytes], recorded: Recorded) -> None:
        assert self._stopping is not None
        stopping = asyncio.ensure_future(self._stopping.wait())
        waiting: set[asyncio.Future[Any]] = {hung_up, stopping}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if hung_up.done():
            recorded.disconnected.set()


def _provider(name: str) -> Provider:
    if name not in PROVIDERS:
        raise ValueError(f"the fake server speaks {', '.join(PROVIDERS)}, not {name!r}")
    return name


# -- HTTP -------------------------------------------------------------------------------------------


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    body = await reader.readexactly(length) if length else b""
    return method, target, headers, body


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
            504: "Gateway Timeout"}  # fmt: skip


async def _send_json(
    writer: asyncio.StreamWriter, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    data = json.dumps(body).encode()
    head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\ncontent-type: application/json\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    writer.write(f"{head}content-length: {len(data)}\r\n\r\n".encode() + data)
    await writer.drain()


async def _send_chunk(writer: asyncio.StreamWriter, payload: bytes) -> None:
    writer.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
    await writer.drain()


def _sse(data: dict[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


OPENAI_MODERATION_CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
    "self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence",
    "violence/graphic",
)  # fmt: skip


def _moderation_answer(reply: Reply) -> dict[str, Any]:
    scores = {name: float(reply.moderation.get(name, 0.0)) for name in OPENAI_MODERATION_CATEGORIES}
    categories = {name: score >= 0.5 for name, score in scores.items()}
    return {
        "id": "modr-fake",
        "model": "omni-moderation-latest",
        "results": [
            {
                "flagged": any(categories.values()),
                "categories": categories,
                "category_scores": scores,
                "category_applied_input_types": {name: ["text"] for name in scores},
            }
        ],
    }


def _route(path: str, query: str) -> tuple[Provider | None, str, bool]:
    if path == "/v1/moderations":
        return "openai", "", False
    if path == "/v1/chat/completions":
        return "openai", "", False
    if path == "/openai/v1/chat/completions":
        return "groq", "", False
    if path.startswith("/v1beta/models/"):
        model, _, method = path.removeprefix("/v1beta/models/").partition(":")
        if method == "generateContent":
            return "gemini", model, False
        if method == "streamGenerateContent" and "alt=sse" in query:
            return "gemini", model, True
    return None, "", False


# -- the providers' bodies -------------------------------------------------------------------------


def _error_body(provider: Provider, reply: Reply) -> dict[str, Any]:
    if reply.body is not None:
        return reply.body
    if provider == "gemini":
        details: list[dict[str, Any]] = []
        if reply.error_reason:
            details.append({
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reply.error_reason,
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            })  # fmt: skip
        if reply.retry_delay:
            details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": reply.retry_delay})
        return {
            "error": {
                "code": reply.status,
                "message": reply.error_message,
                "status": reply.error_code or GEMINI_STATUS_NAMES.get(reply.status, "UNKNOWN"),
                "details": details,
            }
        }
    kind, code = OPENAI_STATUS_TYPES.get(reply.status, ("invalid_request_error", None))
    return {"error": {"message": reply.error_message, "type": kind, "param": None, "code": reply.error_code or code}}


def _error_event(provider: Provider, reply: Reply) -> dict[str, Any]:
    if provider == "gemini":
        return {"error": {"code": 500, "message": reply.error_message, "status": "INTERNAL"}}
    return {"error": {"message": reply.error_message, "type": reply.error_event_type, "param": None, "code": None}}


def _openai_usage(reply: Reply) -> dict[str, Any]:
    completion = reply.completion_count()
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": reply.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
    }


def _groq_usage(reply: Reply) -> dict[str, Any]:
    completion = reply.completion_count()
    return {
        "queue_time": 0.01,
        "prompt_tokens": reply.prompt_tokens,
        "prompt_time": 0.002,
        "completion_tokens": completion,
        "completion_time": 0.05,
        "total_tokens": reply.prompt_tokens + completion,
        "total_time": 0.052,
    }


def _gemini_usage(reply: Reply, candidates: int | None) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "promptTokenCount": reply.prompt_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": reply.prompt_tokens}],
    }
    total = reply.prompt_tokens
    if candidates is not None:
        usage["candidatesTokenCount"] = candidates
        total += candidates
    if reply.reasoning_tokens:
        usage["thoughtsTokenCount"] = reply.reasoning_tokens
        total += reply.reasoning_tokens
    if reply.cached_tokens:
        usage["cachedContentTokenCount"] = reply.cached_tokens
    usage["totalTokenCount"] = total
    return usage


_GEMINI_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY"}


def _whole_answer(provider: Provider, model: str, reply: Reply) -> dict[str, Any]:
    if provider == "gemini":
        if reply.prompt_blocked:
            return {"promptFeedback": {"blockReason": reply.prompt_blocked}, "modelVersion": model}
        candidate: dict[str, Any] = {"content": {"parts": [{"text": reply.text}], "role": "model"}, "index": 0}
        if reply.finish_reason:
            candidate["finishReason"] = _GEMINI_FINISH[reply.finish_reason]
        answer: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": "fake-gemini-1"}
        if reply.send_usage:
            answer["usageMetadata"] = _gemini_usage(reply, reply.completion_count())
        return answer
    answer = {
        "id": "chatcmpl-fake-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply.text, "refusal": None},
            "logprobs": None,
            "finish_reason": reply.finish_reason,
        }],
    }  # fmt: skip
    if reply.send_usage:
        answer["usage"] = _openai_usage(reply)
    if provider == "groq":
        answer["x_groq"] = {"id": "req_fake_1"}
    return answer


def _stream_events(
    provider: Provider, model: str, body: dict[str, Any], reply: Reply
) -> Iterator[tuple[Literal["text", "other"], bytes]]:
    """(kind, SSE bytes) in order; ``text`` events are the ones that carry a piece of the answer."""
    chunks = reply.chunks()
    if provider == "gemini":
        if reply.prompt_blocked:
            yield "other", _sse({"promptFeedback": {"blockReason": reply.prompt_blocked}, "modelVersion": model})
            return
        per_chunk = max(1, reply.completion_count() // max(1, len(chunks)))
        for index, piece in enumerate(chunks):
            last = index == len(chunks) - 1
            candidate: dict[str, Any] = {"content": {"parts": [{"text": piece}], "role": "model"}, "index": 0}
            if last and reply.finish_reason:
                candidate["finishReason"] = _GEMINI_FINISH[reply.finish_reason]
            event: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": "fake-gemini-1"}
            if reply.send_usage:
                so_far = reply.completion_count() if last else per_chunk * (index + 1)
                event["usageMetadata"] = _gemini_usage(reply, so_far)
            yield "text", _sse(event)
        return

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": "chatcmpl-fake-1",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": choices,
        }
        if include_usage:
            data["usage"] = None
        data.update(extra)
        return data

    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    groq = provider == "groq"
    first_extra = {"x_groq": {"id": "req_fake_1"}} if groq else {}
    role = {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
    yield "other", _sse(chunk([role], **first_extra))
    for piece in chunks:
        choice = {"index": 0, "delta": {"content": piece}, "logprobs": None, "finish_reason": None}
        yield "text", _sse(chunk([choice]))
    if reply.finish_reason is not None:
        final = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": reply.finish_reason}
        last_extra: dict[str, Any] = {}
        if groq and reply.send_usage and reply.groq_usage in ("x_groq", "both"):
            last_extra["x_groq"] = {"id": "req_fake_1", "usage": _groq_usage(reply)}
        yield "other", _sse(chunk([final], **last_extra))
    wants_chunk = not groq or reply.groq_usage in ("chunk", "both")
    if include_usage and reply.send_usage and wants_chunk:
        yield "other", _sse(chunk([], usage=_openai_usage(reply)))
    yield "other", _sse("[DONE]")
