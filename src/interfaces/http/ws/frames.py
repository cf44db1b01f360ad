"""The frames of the WebSocket chat (``/api/v1/ws/chat``): JSON text frames tagged by ``type``.

Client -> server: ``auth``, ``send``, ``stop``, ``resume``, ``ping``.
Server -> client: ``ready``, ``ack``, ``message``, ``delta``, ``done``, ``error``, ``title``, ``pong``.
A frame that is not JSON, has an unknown ``type`` or a bad field gets an ``error`` frame and the
socket stays open; only a frame over ``MAX_FRAME_BYTES`` closes it (1009).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec

from src.interfaces.http import json_input

MAX_FRAME_BYTES = 64 * 1024

ClientId = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]


class ClientFrame(msgspec.Struct, tag_field="type", forbid_unknown_fields=True):
    pass


class AuthFrame(ClientFrame, tag="auth"):
    """Sign in on a socket opened without an ``Authorization`` header (browsers), or renew the
    credentials of an open socket before its access token expires."""

    token: Token


class SendFrame(ClientFrame, tag="send"):
    """Send ``content`` to a conversation (a new one when ``conversation_id`` is left out)."""

    content: str
    client_id: ClientId
    conversation_id: uuid.UUID | None = None
    model: str | None = None


class StopFrame(ClientFrame, tag="stop"):
    message_id: uuid.UUID


class ResumeFrame(ClientFrame, tag="resume"):
    """Replay a reply's events after ``last_event_id`` (from the start without one), then go on live."""

    message_id: uuid.UUID
    last_event_id: str | None = None


class PingFrame(ClientFrame, tag="ping"):
    data: Annotated[str, msgspec.Meta(max_length=100)] | None = None


AnyClientFrame = AuthFrame | SendFrame | StopFrame | ResumeFrame | PingFrame
CLIENT_FRAME_TYPES = ("auth", "send", "stop", "resume", "ping")

_encoder = msgspec.json.Encoder()


class FrameError(Exception):
    """A client frame Parley cannot act on; ``code`` and ``detail`` go back in an ``error`` frame."""

    def __init__(self, code: str, detail: str, client_id: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.client_id = client_id


def decode_client_frame(data: str | bytes) -> AnyClientFrame:
    """The frame, decoded as every JSON input is (``json_input``): strict types, no NUL characters, no
    deep nesting, UTF-8 only; anything else is a ``FrameError`` (an ``error`` frame, the socket stays open)."""
    try:
        frame: AnyClientFrame = json_input.decode(data, AnyClientFrame)  # type: ignore[arg-type]
    except json_input.InvalidJson as exc:
        client_id = _client_id_of(data)
        if exc.field == "type" or "missing required field `type`" in exc.message.lower():
            raise FrameError(
                "unknown_frame", f"unknown frame type; expected one of {', '.join(CLIENT_FRAME_TYPES)}", client_id
            ) from None
        raise FrameError("invalid_frame", str(exc), client_id) from None
    except json_input.MalformedJson as exc:
        raise FrameError("invalid_frame", f"frames are JSON objects with a `type` field: {exc.detail}") from None
    return frame


def _client_id_of(data: str | bytes) -> str | None:
    """The ``client_id`` of a frame that failed validation, so the client can match the error."""
    try:
        raw = msgspec.json.decode(data)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return None
    if isinstance(raw, dict):
        value = raw.get("client_id")
        if isinstance(value, str) and 0 < len(value) <= 100 and json_input.NUL not in value:
            return value
    return None


def encode(frame_type: str, **fields: Any) -> bytes:
    """A server frame; ``None`` fields are left out."""
    return _encoder.encode({"type": frame_type, **{k: v for k, v in fields.items() if v is not None}})
