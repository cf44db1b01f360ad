"""Messages: send (JSON or a live SSE stream), page through, regenerate, stop, resume a reply's stream."""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Accept
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import FromPath, HeaderParameter, JSONBody, Parameter, SkipValidation
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_406_NOT_ACCEPTABLE

from src.application.chat.list_messages import ListMessagesQuery
from src.application.chat.regenerate_reply import RegenerateReplyCommand
from src.application.chat.resume_reply_stream import ResumeReplyStreamQuery
from src.application.chat.send_message import SendMessageCommand
from src.application.chat.stop_reply import StopReplyCommand
from src.application.chat.views import ReplyHandle
from src.domain.identity.model import Principal
from src.infrastructure.container import Container
from src.interfaces.http.auth import SECURITY
from src.interfaces.http.paging import limit_param
from src.interfaces.http.routes.chat.schemas import (
    MessagePageResponse,
    MessageResponse,
    RegenerateRequest,
    SendMessageRequest,
    SentMessagesResponse,
    StopResponse,
)
from src.interfaces.http.routes.chat.sse import MEDIA_TYPE as SSE
from src.interfaces.http.routes.chat.sse import sse_response

JSON = "application/json"
#: What the use case reads as an event id (resume_reply_stream.parse_event_id): digits, blanks around.
EVENT_ID_SCHEMA = {"pattern": "^\\s*[0-9]*\\s*$"}
STREAMED = (
    "With `Accept: application/json` (or none): 201 with the stored user and assistant messages once the reply "
    "is complete. With `Accept: text/event-stream`: 200 and a server-sent event stream: `message` (the stored "
    "user message), `delta` (`{text}`) as the reply is written, then `done` (the stored assistant message with "
    "usage, cost, model and finish reason) or `error` (`{code, detail, message}`); every event has an `id`, and "
    "a `: heartbeat` comment comes every 15 s. Disconnecting never stops the reply: resume it at "
    "`.../messages/{message_id}/stream` with `Last-Event-ID`."
)
SSE_EVENTS = (
    "Server-sent events, each `id: <n>`, `event: <kind>`, `data: <JSON>`: `message` (data: the stored user "
    "message, a `MessageResponse`), `delta` (`{text}`: the next piece of the reply), `snapshot` (`{text}`: the "
    "whole reply so far, replacing what was shown; sent on resume when the deltas after `Last-Event-ID` are "
    "gone from the shared stream, then the deltas after it), then `done` (data: the "
    "stored assistant message, a `MessageResponse` with usage, cost and finish reason) or `error` (`{code, "
    "detail, message}`: `message` is the stored partial reply or null); nothing follows `done` or `error`. "
    "A `: heartbeat` comment comes every `SSE_HEARTBEAT_SECONDS` (15 s by default)."
)
SSE_EXAMPLE = (
    'id: 2\nevent: delta\ndata: {"text":"Hello"}\n\n'
    'id: 3\nevent: done\ndata: {"id":"01a24a1e-9b45-77cf-a965-ea73b0ab8ead","role":"assistant","content":"Hello",'
    '"status":"complete","finish_reason":"stop"}\n\n'
)


class ServerSentEvent(msgspec.Struct):
    """One event of a reply's stream, as an SSE client parses it."""

    event: Annotated[Literal["message", "delta", "snapshot", "done", "error"], msgspec.Meta(description="The kind.")]
    data: Annotated[str, msgspec.Meta(description="JSON: a `MessageResponse`, `{text}` or `{code, detail, message}`.")]
    id: Annotated[str, msgspec.Meta(description="The event id, counting from 1: send it back as `Last-Event-ID`.")]


SSE_SPEC = ResponseSpec(
    data_container=ServerSentEvent,
    media_type=SSE,
    description=SSE_EVENTS,
    generate_examples=False,
    examples=[Example(summary="A short reply", value=SSE_EXAMPLE)],
)
SSE_RESPONSE = {
    200: SSE_SPEC,
    201: ResponseSpec(
        SentMessagesResponse, description="The stored user message and the complete reply", generate_examples=False
    ),
}


def wants_event_stream(request: Request[Any, Any, Any]) -> bool:
    """Accept negotiation: JSON unless the client prefers ``text/event-stream``; neither is 406."""
    best = best_match(request.headers.get("accept", "*/*"), (JSON, SSE))
    if best is None:
        raise HTTPException(status_code=HTTP_406_NOT_ACCEPTABLE, detail=f"This route answers {JSON} or {SSE}")
    return best == SSE


@lru_cache(maxsize=256)
def best_match(accept: str, offered: tuple[str, ...]) -> str | None:
    """Which of ``offered`` an ``Accept`` header prefers (the first on a tie; ``None``: none is acceptable).
    Remembered by header: clients send the same few, and parsing one took ~2 % of a chat reply's CPU (twice a
    send). Bounded, so that headers made up to miss cost what they did before."""
    return Accept(accept).best_match(list(offered))


async def reply_response(request: Request[Any, Any, Any], handle: ReplyHandle, container: Container) -> Response[Any]:
    if wants_event_stream(request):
        return sse_response(
            handle.events(after=handle.shown_up_to),
            heartbeat_seconds=container.settings.chat.sse_heartbeat_seconds,
            shown=handle.shown,
        )
    assistant = await handle.result()
    scan = container.settings.ai.prompt_injection_policy == "flag"
    body = SentMessagesResponse(MessageResponse.of(handle.user_message, scan=scan), MessageResponse.of(assistant))
    return Response(body, status_code=HTTP_201_CREATED)


class MessagesController(Controller):
    path = "/conversations/{conversation_id:uuid}/messages"
    tags = ["messages"]
    security = SECURITY

    @get(
        "/",
        summary="A page of messages, newest first",
        description="Pass the `next_before` of a page as `before` for the next, older one. Someone else's "
        "conversation is 404 `conversation_not_found`.",
    )
    async def list_messages(
        self,
        conversation_id: FromPath[uuid.UUID],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        before: Annotated[uuid.UUID | None, Parameter(description="Only messages older than this one")] = None,
        limit: Annotated[int, limit_param(200)] = 50,
    ) -> MessagePageResponse:
        command = ListMessagesQuery(conversation_id, before=before, limit=limit)
        scan = container.settings.ai.prompt_injection_policy == "flag"
        return MessagePageResponse.of(await container.use_cases.chat.list_messages(principal, command), scan=scan)

    @post(
        "/",
        summary="Send a message and get the reply",
        description=STREAMED + " Refused before any model call: empty or oversized content (422), unknown model "
        "(422 `model_unavailable`), a spent monthly budget (429 `budget_exceeded`), too many AI requests (429 "
        "`rate_limited`), a reply already generating (409 `reply_in_progress`).",
        responses=SSE_RESPONSE,
        status_code=HTTP_201_CREATED,
    )
    async def send_message(
        self,
        request: Request[Any, Any, Any],
        conversation_id: FromPath[uuid.UUID],
        data: JSONBody[SendMessageRequest],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> Response[Any]:
        wants_event_stream(request)  # 406 before anything is stored
        command = SendMessageCommand(data.content, conversation_id=conversation_id, model=data.model)
        return await reply_response(request, await container.use_cases.chat.send_message(principal, command), container)

    @post(
        "/{message_id:uuid}/regenerate",
        summary="Replace the last reply",
        description="`message_id` is the latest message: its last reply (deleted and written anew) or a user "
        "message left without one. Anything else is 409 `not_latest_message`. " + STREAMED,
        responses=SSE_RESPONSE,
        status_code=HTTP_201_CREATED,
    )
    async def regenerate_reply(
        self,
        request: Request[Any, Any, Any],
        conversation_id: FromPath[uuid.UUID],
        message_id: FromPath[uuid.UUID],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        data: JSONBody[RegenerateRequest | None] = None,
    ) -> Response[Any]:
        wants_event_stream(request)
        command = RegenerateReplyCommand(conversation_id, message_id, model=data.model if data else None)
        return await reply_response(
            request, await container.use_cases.chat.regenerate_reply(principal, command), container
        )

    @post(
        "/{message_id:uuid}/stop",
        status_code=HTTP_202_ACCEPTED,
        summary="Stop a reply in progress",
        description="From any client, on any instance: the model call is cancelled and the text so far is kept "
        "with `finish_reason` `cancelled` (the reply's stream ends with `done`). 409 `reply_not_in_progress` when "
        "it has already ended.",
    )
    async def stop_reply(
        self,
        conversation_id: FromPath[uuid.UUID],
        message_id: FromPath[uuid.UUID],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> StopResponse:
        command = StopReplyCommand(message_id, conversation_id=conversation_id)
        await container.use_cases.chat.stop_reply(principal, command)
        return StopResponse(message_id=message_id, status="stopping")

    @get(
        "/{message_id:uuid}/stream",
        summary="Resume a reply's event stream",
        description=(
            "The events after `Last-Event-ID` (or the `last_event_id` query parameter; from the start without "
            "either), then live ones until `done` or `error`, from any instance. A reply whose stream has expired "
            "(a while after it ended) is answered with one `done` (or `error`) event carrying the stored message."
        ),
        responses={200: SSE_SPEC},
        media_type=SSE,
    )
    async def stream_reply(
        self,
        request: Request[Any, Any, Any],
        conversation_id: FromPath[uuid.UUID],
        message_id: FromPath[uuid.UUID],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        last_event_id_header: Annotated[
            str, HeaderParameter(name="Last-Event-ID", max_length=20, required=False, schema_extra=EVENT_ID_SCHEMA)
        ] = "",
        last_event_id: Annotated[
            str, Parameter(max_length=20, description="Instead of the header", schema_extra=EVENT_ID_SCHEMA)
        ] = "",
    ) -> Response[Any]:
        if best_match(request.headers.get("accept", "*/*"), (SSE,)) is None:
            raise HTTPException(status_code=HTTP_406_NOT_ACCEPTABLE, detail=f"This route answers {SSE} only")
        command = ResumeReplyStreamQuery(
            message_id, last_event_id_header or last_event_id, conversation_id=conversation_id
        )
        events = await container.use_cases.chat.resume_reply_stream(principal, command)
        return sse_response(events, heartbeat_seconds=container.settings.chat.sse_heartbeat_seconds)
