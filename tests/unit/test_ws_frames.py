"""WebSocket chat frames: what a client may send, and the error it gets for anything else."""

from __future__ import annotations

import uuid

import msgspec
import pytest

from src.interfaces.http.ws.frames import (
    AuthFrame,
    FrameError,
    PingFrame,
    ResumeFrame,
    SendFrame,
    StopFrame,
    decode_client_frame,
    encode,
)


def test_every_client_frame_decodes() -> None:
    message_id = uuid.uuid4()
    assert decode_client_frame('{"type": "auth", "token": "t"}') == AuthFrame(token="t")
    assert decode_client_frame('{"type": "send", "content": "hi", "client_id": "c1"}') == SendFrame(
        content="hi", client_id="c1"
    )
    assert decode_client_frame(f'{{"type": "stop", "message_id": "{message_id}"}}') == StopFrame(message_id)
    assert decode_client_frame(
        f'{{"type": "resume", "message_id": "{message_id}", "last_event_id": "5-0"}}'
    ) == ResumeFrame(message_id, "5-0")
    assert decode_client_frame(b'{"type": "ping"}') == PingFrame()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "invalid_frame"),
        ("[1, 2]", "invalid_frame"),
        ("{}", "unknown_frame"),
        ('{"type": "shout"}', "unknown_frame"),
        ('{"type": "send", "content": "hi"}', "invalid_frame"),
        ('{"type": "stop", "message_id": "not-a-uuid"}', "invalid_frame"),
        ('{"type": "auth", "token": ""}', "invalid_frame"),
    ],
)
def test_bad_frames_are_errors_with_a_code(raw: str, code: str) -> None:
    with pytest.raises(FrameError) as caught:
        decode_client_frame(raw)
    assert caught.value.code == code
    assert caught.value.detail


def test_an_invalid_send_names_the_field_and_echoes_the_client_id() -> None:
    with pytest.raises(FrameError) as caught:
        decode_client_frame('{"type": "send", "content": "hi", "client_id": "c7", "colour": "red"}')
    assert caught.value.client_id == "c7"
    assert "colour" in caught.value.detail


def test_server_frames_leave_out_empty_fields() -> None:
    assert msgspec.json.decode(encode("error", code="x", detail="y", client_id=None)) == {
        "type": "error",
        "code": "x",
        "detail": "y",
    }


def test_a_client_too_slow_to_read_is_closed_instead_of_queueing_without_bound() -> None:
    from typing import Any, cast

    from src.infrastructure.realtime.connection_slots import ConnectionSlots
    from src.interfaces.http.ws.session import CLOSE_TRY_AGAIN_LATER, SocketSession

    session = SocketSession(
        cast(Any, object()),  # never written to: the writer task is not running
        authenticate=cast(Any, None),
        slots=ConnectionSlots(None, None, limit=1),
        auth_timeout=1,
        queue_frames=16,
    )
    accepted = [session.push(encode("delta", text=str(i))) for i in range(40)]
    assert accepted == [True] * 16 + [False] * 24
    assert session.closing
    assert session._close_code == CLOSE_TRY_AGAIN_LATER
    assert session._outbox.qsize() == 1  # what waited was dropped: only the close remains


def test_a_snapshot_event_goes_out_as_a_snapshot_frame_with_its_id() -> None:
    from src.application.chat.ports import ReplyEvent
    from src.interfaces.http.ws.chat import _reply_frame

    frame = msgspec.json.decode(_reply_frame("m1", ReplyEvent(id=42, kind="snapshot", data={"text": "so far"})))
    assert frame == {"type": "snapshot", "message_id": "m1", "text": "so far", "event_id": "42"}
