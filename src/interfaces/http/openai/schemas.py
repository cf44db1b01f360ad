"""The OpenAI chat completions wire format: the request as msgspec structs, the answers as bytes.

Unknown request fields are ignored, as OpenAI does. Answers are encoded with msgspec; a streamed
delta is a prefix fixed for the request, the JSON-escaped text and a fixed suffix.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import msgspec

from src.application.chat.complete_chat import CompleteChatCommand, CompletionResult, InvalidCompletionRequest
from src.domain.llm.model import FinishReason, MessageRole, PromptMessage, Usage


class ContentPart(msgspec.Struct):
    type: str
    text: str | None = None


class ChatMessage(msgspec.Struct):
    role: str
    content: str | list[ContentPart] | None = None


class StreamOptions(msgspec.Struct):
    include_usage: bool = False


class ChatCompletionRequest(msgspec.Struct):
    model: str
    messages: list[ChatMessage]
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stop: str | list[str] | None = None
    n: int | None = None
    user: str | None = None
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    store: bool | None = None

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


REQUEST_DECODER = msgspec.json.Decoder(ChatCompletionRequest)

#: OpenAI's roles; ``developer`` is the newer name of ``system``.
_ROLES = {
    "system": MessageRole.SYSTEM,
    "developer": MessageRole.SYSTEM,
    "user": MessageRole.USER,
    "assistant": MessageRole.ASSISTANT,
}


def _refuse(param: str, why: str) -> InvalidCompletionRequest:
    return InvalidCompletionRequest(why, extra={"param": param})


def _text_of(message: ChatMessage, index: int) -> str:
    content = message.content
    if content is None:
        if message.role == "assistant":
            return ""
        raise _refuse(f"messages[{index}].content", f"messages[{index}] has no content")
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        if part.type != "text" or part.text is None:
            raise _refuse(f"messages[{index}].content", f"only text content parts are supported, not {part.type!r}")
        texts.append(part.text)
    return "".join(texts)


def command_of(request: ChatCompletionRequest) -> CompleteChatCommand:
    if request.n not in (None, 1):
        raise _refuse("n", "n must be 1: Parley answers with one choice")
    messages = []
    for index, message in enumerate(request.messages):
        role = _ROLES.get(message.role)
        if role is None:
            raise _refuse(f"messages[{index}].role", f"the role {message.role!r} is not supported (tools are not)")
        messages.append(PromptMessage(role, _text_of(message, index)))
    if request.response_format is not None and request.response_format.get("type") not in (
        "text",
        "json_object",
        "json_schema",
    ):
        raise _refuse("response_format", "response_format.type must be text, json_object or json_schema")
    stop = request.stop
    return CompleteChatCommand(
        model=request.model,
        messages=tuple(messages),
        temperature=request.temperature,
        top_p=request.top_p,
        max_output_tokens=request.max_completion_tokens
        if request.max_completion_tokens is not None
        else request.max_tokens,
        stop=(stop,) if isinstance(stop, str) else tuple(stop or ()),
        seed=request.seed,
        response_format=request.response_format,
        store=bool(request.store),
    )


# -- answers ----------------------------------------------------------------------------------------


def completion_id() -> str:
    return "chatcmpl-" + secrets.token_urlsafe(18)


def finish_reason_of(reason: FinishReason) -> str:
    """OpenAI's ``finish_reason`` (a cancelled or failed answer stopped: ``stop``)."""
    if reason in (FinishReason.LENGTH, FinishReason.CONTENT_FILTER):
        return reason.value
    return "stop"


def usage_json(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def completion_body(result: CompletionResult, *, id_: str, created: int) -> bytes:
    return msgspec.json.encode({
        "id": id_,
        "object": "chat.completion",
        "created": created,
        "model": result.model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.text, "refusal": None},
                "logprobs": None,
                "finish_reason": finish_reason_of(result.finish_reason),
            }
        ],
        "usage": usage_json(result.usage),
    })  # fmt: skip


class ChunkWriter:
    """The ``data:`` events of one streamed completion."""

    __slots__ = ("_created", "_head", "_id", "_include_usage", "_model", "_usage_null")

    def __init__(self, *, model: str, include_usage: bool) -> None:
        self._id = completion_id()
        self._created = int(time.time())
        self._model = model
        self._include_usage = include_usage
        # With include_usage, every chunk carries "usage": null until the usage chunk (as OpenAI's do).
        self._usage_null = b',"usage":null' if include_usage else b""
        self._head = self._head_for(model)

    def _head_for(self, model: str) -> bytes:
        fixed = msgspec.json.encode({
            "id": self._id, "object": "chat.completion.chunk", "created": self._created, "model": model,
            "system_fingerprint": None,
        })  # fmt: skip
        return b"data: " + fixed[:-1] + b',"choices":['

    def role(self) -> bytes:
        return (
            self._head
            + b'{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,'
            + (b'"finish_reason":null}]' + self._usage_null + b"}\n\n")
        )

    def delta(self, text: str) -> bytes:
        return (
            self._head
            + b'{"index":0,"delta":{"content":'
            + msgspec.json.encode(text)
            + b'},"logprobs":null,"finish_reason":null}]'
            + self._usage_null
            + b"}\n\n"
        )

    def finish(self, result: CompletionResult) -> bytes:
        """The last chunk (its finish reason) and, when asked for, the usage chunk (``choices: []``)."""
        head = self._head_for(result.model) if result.model != self._model else self._head
        reason = msgspec.json.encode(finish_reason_of(result.finish_reason))
        events = head + b'{"index":0,"delta":{},"logprobs":null,"finish_reason":' + reason + b"}]"
        events += self._usage_null + b"}\n\n"
        if self._include_usage:
            events += head + b'],"usage":' + msgspec.json.encode(usage_json(result.usage)) + b"}\n\n"
        return events


DONE = b"data: [DONE]\n\n"


def model_json(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": model_id.partition("/")[0]}
