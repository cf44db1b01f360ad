"""Registration and the OAuth2 token endpoint (RFC 6749): password and refresh_token grants, sign-out."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Controller, Request, Response, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import JSONBody, SkipValidation
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT, HTTP_400_BAD_REQUEST

from src.application.identity.refresh_session import RefreshSessionCommand
from src.application.identity.sign_out import SignOutCommand
from src.application.identity.sign_out_everywhere import SignOutEverywhereCommand
from src.application.identity.views import RegisterUserCommand, SignInCommand, TokenPair
from src.domain.identity.errors import InvalidToken, RefreshTokenReused, SignInThrottled
from src.domain.identity.model import Principal
from src.domain.shared.errors import DomainError
from src.infrastructure.container import Container
from src.infrastructure.logging import get_logger
from src.interfaces.http import json_input
from src.interfaces.http.auth import PUBLIC_OPT, SECURITY, client_host
from src.interfaces.http.rate_limit import client_address
from src.interfaces.http.routes.identity.schemas import (
    LogoutAllRequest,
    LogoutRequest,
    OAuthError,
    OAuthErrorCode,
    RegisterRequest,
    SignedOut,
    TokenRequest,
    TokenResponse,
    UserResponse,
)

security_logger = get_logger("parley.security")

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
#: Token responses hold credentials: nothing on the way may keep them (RFC 6749 section 5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
#: Use-case errors that mean "this grant is not good" (RFC 6749 section 5.2: invalid_grant). Unknown
#: email and wrong password share ``invalid_credentials``: one answer for both.
INVALID_GRANT_CODES = frozenset(
    {
        "invalid_credentials",
        "account_inactive",
        "invalid_token",
        "session_revoked",
        "session_expired",
        "refresh_token_reused",
    }
)


class OAuthTokenError(Exception):
    """Answered as an RFC 6749 section 5.2 error body, never as problem JSON: OAuth2 clients parse it."""

    def __init__(self, error: OAuthErrorCode, description: str) -> None:
        super().__init__(description)
        self.error: OAuthErrorCode = error
        self.description = description


def oauth_error_handler(_: Request[Any, Any, Any], exc: OAuthTokenError) -> Response[OAuthError]:
    return Response(
        OAuthError(error=exc.error, error_description=exc.description),
        status_code=HTTP_400_BAD_REQUEST,
        headers=NO_STORE,
    )


def _field(description: str) -> Schema:
    return Schema(type=OpenAPIType.STRING, description=description)


_TOKEN_REQUEST_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["grant_type"],
    properties={
        "grant_type": Schema(
            type=OpenAPIType.STRING, enum=["password", "refresh_token"], description="Which grant this is."
        ),
        "username": _field("The email (password grant)."),
        "password": _field("The password (password grant)."),
        "refresh_token": _field("The refresh token (refresh_token grant)."),
        "scope": _field("Ignored: Parley has no OAuth2 scopes."),
    },
)


@dataclass
class TokenOperation(Operation):
    """The token endpoint reads its body itself (form or JSON); this documents both encodings."""

    def __post_init__(self) -> None:
        media = OpenAPIMediaType(schema=_TOKEN_REQUEST_SCHEMA)
        self.request_body = RequestBody(required=True, content={FORM: media, JSON: media})


async def read_token_request(request: Request[Any, Any, Any]) -> TokenRequest:
    """The grant's parameters, checked like every other input (``json_input``: strict types, no NUL
    characters, no deep nesting, UTF-8), but refused the RFC 6749 way: 400 ``invalid_request``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == FORM:
            form = await request.form()
            pairs = [(key, value) for key in form for value in form.getall(key) if isinstance(value, str)]
            refused = json_input.nul_fields(iter(pairs))
            if refused:
                raise json_input.InvalidJson(refused[0], "must not contain NUL characters")
            return msgspec.convert({key: form.get(key) for key in form}, TokenRequest)
        if content_type == JSON:
            return json_input.decode(await request.body(), TokenRequest)
    except (json_input.InvalidJson, json_input.MalformedJson, msgspec.ValidationError) as exc:
        raise OAuthTokenError("invalid_request", f"The request body is malformed: {exc}") from None
    raise OAuthTokenError("invalid_request", f"Send the parameters as {FORM} (or {JSON})")


def log_security_event(exc: DomainError, request: Request[Any, Any, Any]) -> None:
    """Theft and guessing leave a trace: a reused refresh token, a throttled sign-in (never a secret)."""
    if isinstance(exc, RefreshTokenReused):
        security_logger.warning(
            "refresh_token_reused",
            user_id=exc.extra.get("user_id"),
            family_id=exc.extra.get("family_id"),
            client_ip=client_address(request.scope),
        )
    elif isinstance(exc, SignInThrottled):
        security_logger.warning("sign_in_throttled", client_ip=client_address(request.scope))


def _require(value: str | None, name: str, grant: str) -> str:
    if not value:
        raise OAuthTokenError("invalid_request", f"The {grant} grant needs `{name}`")
    return value


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post(
        "/register",
        opt={PUBLIC_OPT: True, "rate_limit": "register"},
        status_code=HTTP_201_CREATED,
        summary="Create an account",
        description=(
            "Registers an account with the default role (`DEFAULT_ROLE`: `creator` unless configured) on the free "
            "tier. The email is trimmed, lower-cased and must be unused "
            "(409 `email_taken`); the password needs at least 10 characters, must not be the email and must "
            "not be a commonly used password (422 `weak_password` names the rule). At most 5 registrations "
            "per client address per hour."
        ),
        responses={
            409: ResponseSpec(None, description="`email_taken`"),
            429: ResponseSpec(None, description="Too many registrations from this address; see `Retry-After`"),
        },
    )
    async def register(self, data: JSONBody[RegisterRequest], container: SkipValidation[Container]) -> UserResponse:
        view = await container.use_cases.identity.register_user(
            RegisterUserCommand(email=data.email, password=data.password, display_name=data.display_name)
        )
        return UserResponse.of(view)

    @post(
        "/token",
        opt={PUBLIC_OPT: True},
        status_code=HTTP_200_OK,
        summary="Get tokens (OAuth2 password and refresh_token grants)",
        description=(
            "RFC 6749: `grant_type=password` with `username` (the email) and `password` signs in and starts a "
            "session; `grant_type=refresh_token` with `refresh_token` exchanges the session's current refresh "
            "token for a new pair (each refresh token works once: presenting a used one again ends the whole "
            "session). Form-encoded like every OAuth2 client sends it, or JSON. Errors are RFC 6749 section 5.2 "
            "bodies: 400 `invalid_request`, `invalid_grant` (wrong email or password, deactivated account, "
            "unknown, used or expired refresh token) or `unsupported_grant_type`. After 5 failed sign-ins for "
            "one email from one address in 15 minutes, 429 `too_many_attempts` with `Retry-After`."
        ),
        operation_class=TokenOperation,
        exception_handlers={OAuthTokenError: oauth_error_handler},
        responses={
            400: ResponseSpec(OAuthError, description="RFC 6749 section 5.2 error", generate_examples=False),
            429: ResponseSpec(None, description="`too_many_attempts`: wait `Retry-After` seconds"),
        },
    )
    async def token(
        self, request: Request[Any, Any, Any], container: SkipValidation[Container]
    ) -> Response[TokenResponse]:
        body = await read_token_request(request)
        try:
            pair = await self._grant(body, request, container)
        except DomainError as exc:
            log_security_event(exc, request)
            if exc.code in INVALID_GRANT_CODES:
                raise OAuthTokenError("invalid_grant", exc.detail) from None
            raise
        return Response(TokenResponse.of(pair), headers=NO_STORE)

    @staticmethod
    async def _grant(body: TokenRequest, request: Request[Any, Any, Any], container: Container) -> TokenPair:
        if body.grant_type == "password":
            command = SignInCommand(
                email=_require(body.username, "username", "password"),
                password=_require(body.password, "password", "password"),
                client_ip=client_address(request.scope),
            )
            return await container.use_cases.identity.sign_in(command)
        if body.grant_type == "refresh_token":
            return await container.use_cases.identity.refresh_session(
                RefreshSessionCommand(
                    _require(body.refresh_token, "refresh_token", "refresh_token"), client_ip=client_host(request.scope)
                )
            )
        raise OAuthTokenError("unsupported_grant_type", "grant_type must be `password` or `refresh_token`")

    @post(
        "/logout",
        status_code=HTTP_204_NO_CONTENT,
        security=SECURITY,
        summary="Sign out of one session",
        description=(
            "Revokes the session (refresh-token family) the given refresh token belongs to. Like RFC 7009, an "
            "unknown token (or one of another user's sessions, which is never touched) also answers 204."
        ),
    )
    async def logout(
        self, data: JSONBody[LogoutRequest], principal: SkipValidation[Principal], container: SkipValidation[Container]
    ) -> None:
        with contextlib.suppress(InvalidToken):  # nothing to revoke, and nothing to reveal about others
            await container.use_cases.identity.sign_out(principal, SignOutCommand(data.refresh_token))

    @post(
        "/logout-all",
        status_code=HTTP_200_OK,
        security=SECURITY,
        summary="Sign out everywhere",
        description=(
            "Revokes every session of the caller and ends every access token issued so far, this one included; "
            "open WebSockets of the caller are closed with 4401. API keys keep working unless the body says "
            '`{"revoke_api_keys": true}` (the body is optional).'
        ),
    )
    async def logout_all(
        self,
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        data: JSONBody[LogoutAllRequest | None] = None,
    ) -> SignedOut:
        revoke_api_keys = data is not None and data.revoke_api_keys
        return SignedOut(
            revoked_sessions=await container.use_cases.identity.sign_out_everywhere(
                principal, SignOutEverywhereCommand(revoke_api_keys=revoke_api_keys)
            )
        )
