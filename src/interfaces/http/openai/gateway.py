"""The ``/v1`` ASGI app: OpenAI's chat completions and models endpoints over Parley's use cases.

It is mounted in front of Litestar's router (``mount``), inside the request-context middleware (request
id, access log, security headers): the OpenAI surface has its own authentication answer (401
``invalid_api_key``), its own error shape, and no use for the REST API's response cache or per-IP
limits (the AI allowance and the budget are the use case's). Every answer carries
``Server-Timing: parley;dur=<ms>``: the time Parley itself spent, without the time waited for the model.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send

from src.application.identity.authenticate import Authenticate, AuthenticateCommand
from src.domain.identity.model import Principal
from src.domain.llm.errors import UnknownModel
from src.domain.shared.errors import DomainError, Unauthenticated
from src.infrastructure.logging import get_logger
from src.infrastructure.persistence.outage import DATABASE_RETRY_AFTER_SECONDS, is_database_outage
from src.infrastructure.wiring.gateway import GatewayUseCases
from src.interfaces.http.auth import bearer_token
from src.interfaces.http.openai.errors import error_body, translate
from src.interfaces.http.openai.schemas import (
    REQUEST_DECODER,
    command_of,
    completion_body,
    completion_id,
    model_json,
)
from src.interfaces.http.openai.streaming import relay_stream, server_timing

logger = get_logger("parley.gateway")

PREFIX = "/v1"
COMPLETIONS = "/v1/chat/completions"
MODELS = "/v1/models"
JSON_HEADERS = ((b"content-type", b"application/json"),)


class OpenAIGateway:
    def __init__(self, use_cases: GatewayUseCases, authenticate: Authenticate, *, max_body_bytes: int) -> None:
        self._use_cases = use_cases
        self._authenticate = authenticate
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path: str = scope["path"].rstrip("/")
        method = str(scope.get("method", "GET"))
        try:
            if path == COMPLETIONS:
                scope["path_template"] = COMPLETIONS
                if method != "POST":
                    raise _MethodNotAllowed(method, path)
                principal = await self._principal(scope)
                body = await self._body(receive)
                await self._completions(principal, body, receive, send, started)
            elif path == MODELS or path.startswith(MODELS + "/"):
                scope["path_template"] = MODELS if path == MODELS else MODELS + "/{model}"
                if method != "GET":
                    raise _MethodNotAllowed(method, path)
                await self._principal(scope)
                await self._models(path.removeprefix(MODELS).lstrip("/"), send, started)
            else:
                await _answer(send, 404, error_body(f"Unknown request URL: {method} {path}", "invalid_request_error",
                                                    code="unknown_url"), started)  # fmt: skip
        except DomainError as exc:
            status, error, headers = translate(exc)
            await _answer(send, status, error, started, headers)
        except _MethodNotAllowed as exc:
            await _answer(send, 405, error_body(str(exc), "invalid_request_error", code="method_not_allowed"), started)
        except _BodyTooLarge:
            await _answer(send, 413, error_body("The request body is too large", "invalid_request_error"), started)
        except msgspec.DecodeError as exc:
            await _answer(send, 400, _decode_error(exc), started)
        except Exception as exc:  # noqa: BLE001 - a bug still gets an OpenAI-shaped 500 (logged)
            if is_database_outage(exc):  # not a bug: the SDKs retry a 503 after Retry-After
                logger.warning("database_unavailable", path=path, error=f"{type(exc).__name__}: {exc}")
                retry = [(b"retry-after", str(DATABASE_RETRY_AFTER_SECONDS).encode())]
                body = error_body("The database cannot be reached; try again shortly", "server_error")
                with contextlib.suppress(Exception):
                    await _answer(send, 503, body, started, retry)
                return
            log_unexpected(exc, path=path)
            with contextlib.suppress(Exception):
                await _answer(send, 500, error_body("The server had an error processing your request", "server_error"),
                              started)  # fmt: skip

    async def _principal(self, scope: Scope) -> Principal:
        token = bearer_token(scope)
        if token is None:
            raise Unauthenticated("You didn't provide an API key: send `Authorization: Bearer pk_...`")
        return await self._authenticate(AuthenticateCommand(token))

    async def _body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            part: bytes = message.get("body", b"")  # type: ignore[assignment]
            size += len(part)
            if size > self._max_body:
                raise _BodyTooLarge
            chunks.append(part)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _completions(
        self, principal: Principal, body: bytes, receive: Receive, send: Send, started: float
    ) -> None:
        request = REQUEST_DECODER.decode(body)
        command = command_of(request)
        complete_chat = self._use_cases.complete_chat
        if request.stream:
            stream = await complete_chat.stream(principal, command)
            await relay_stream(
                stream,
                send,
                receive,
                include_usage=request.include_usage,
                parley_seconds=_since(started) - stream.waited,
            )
            return
        result = await complete_chat.complete(principal, command)
        answer = completion_body(result, id_=completion_id(), created=int(time.time()))
        await _answer(send, 200, answer, started, waited=result.provider_seconds)

    async def _models(self, wanted: str, send: Send, started: float) -> None:
        catalog = self._use_cases.catalog
        if not wanted:
            data = [model_json(m.id) for m in catalog.models() if catalog.is_available(m.id)]
            await _answer(send, 200, msgspec.json.encode({"object": "list", "data": data}), started)
            return
        try:
            info = self._use_cases.complete_chat.resolve_model(wanted)
        except UnknownModel as exc:
            raise UnknownModel(f"The model `{wanted}` does not exist or you do not have access to it") from exc
        await _answer(send, 200, msgspec.json.encode(model_json(info.id)), started)


def mount(app: ASGIApp, gateway: OpenAIGateway) -> ASGIApp:
    """``app`` with ``/v1`` served by ``gateway``."""

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if scope["type"] == ScopeType.HTTP and (path == PREFIX or path.startswith(PREFIX + "/")):
            await gateway(scope, receive, send)
        else:
            await app(scope, receive, send)

    return dispatch


class _MethodNotAllowed(Exception):
    def __init__(self, method: str, path: str) -> None:
        super().__init__(f"{method} is not allowed on {path}")


class _BodyTooLarge(Exception):
    pass


def _since(started: float) -> float:
    return time.perf_counter() - started


def _decode_error(exc: msgspec.DecodeError) -> bytes:
    detail = str(exc)
    # msgspec names the field: "Expected `int`, got `str` - at `$.n`"
    param = detail.rpartition("at `$.")[2].rstrip("`") if "at `$." in detail else None
    if isinstance(exc, msgspec.ValidationError):
        return error_body(detail, "invalid_request_error", param=param)
    return error_body("We could not parse the JSON body of your request", "invalid_request_error")


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    started: float,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    waited: float = 0.0,
) -> None:
    head: list[tuple[bytes, bytes]] = [
        *JSON_HEADERS,
        (b"content-length", str(len(body)).encode()),
        server_timing(_since(started) - waited),
        *(headers or ()),
    ]
    start: HTTPResponseStartEvent = {"type": "http.response.start", "status": status, "headers": head}
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)


def log_unexpected(exc: BaseException, **fields: Any) -> None:
    logger.error("gateway_unexpected_error", exc_info=exc, **fields)
