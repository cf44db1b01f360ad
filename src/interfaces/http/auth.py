"""Authentication and permission guards for the HTTP front door.

``AuthenticationMiddleware`` turns ``Authorization: Bearer <access token | pk_ API key>`` into a
``Principal`` in ``scope["user"]`` through the ``Authenticate`` use case. It is the first middleware
given to Litestar, so the rate limiter and the response cache (which key on ``scope["user"].id`` and
read ``.permissions``) see who is calling. Anonymous requests get ``scope["user"] = None``.

A token that does not authenticate does not fail the request by itself: public routes (sign-in,
registration) must still answer a client holding a stale token. The failure is kept in the scope and
``require_principal`` (the guard on every ``/api/v1`` route not marked ``opt={"public": True}``)
raises it: 401 problem JSON with ``WWW-Authenticate: Bearer error="invalid_token"``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.openapi.spec import OAuthFlow, OAuthFlows, Reference, SecurityRequirement, SecurityScheme
from litestar.params import SkipValidation
from litestar.types import ASGIApp, Receive, Scope, Send

from src.application.identity.authenticate import Authenticate, AuthenticateCommand
from src.domain.identity.errors import Forbidden
from src.domain.identity.model import Permission, Principal
from src.domain.shared.errors import DomainError, Unauthenticated
from src.infrastructure.container import Container

#: Only the API authenticates; health, readiness, metrics (its own token) and the docs never do.
API_PREFIX = "/api/"
#: Where a failed authentication waits for a guard to raise it.
AUTH_ERROR_STATE = "auth_error"
#: The route option that lets anonymous callers through the router's guard.
PUBLIC_OPT = "public"
TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret

OAUTH2_SCHEME = "OAuth2PasswordBearer"
API_KEY_SCHEME = "ApiKeyBearer"
SECURITY_SCHEMES: dict[str, SecurityScheme | Reference] = {
    OAUTH2_SCHEME: SecurityScheme(
        type="oauth2",
        description=(
            "OAuth2 password flow (RFC 6749): the email as `username` and the password. Swagger UI's "
            "Authorize button signs in with it; the access token is then sent as `Authorization: Bearer <jwt>`."
        ),
        flows=OAuthFlows(password=OAuthFlow(token_url=TOKEN_URL, scopes={})),
    ),
    API_KEY_SCHEME: SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="pk_...",
        description="An API key from `POST /api/v1/api-keys`, sent as `Authorization: Bearer pk_...`.",
    ),
}
#: Either scheme opens every protected route.
SECURITY: list[SecurityRequirement] = [{OAUTH2_SCHEME: []}, {API_KEY_SCHEME: []}]


class AuthenticationRequired(Unauthenticated):
    code = "authentication_required"
    title = "Authentication required"


def bearer_token(scope: Scope) -> str | None:
    """The credentials of an ``Authorization: Bearer ...`` header; ``None`` without one (or another scheme)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() != "bearer":
                return None
            return credentials.strip() or None
    return None


def client_host(scope: Scope) -> str | None:
    """The connection's address as the audit log records it: the whole address (rate limits key IPv6
    on its /64 instead, see ``client_address``), an IPv4-mapped IPv6 address as the IPv4 one. With
    ``FORWARDED_ALLOW_IPS``, uvicorn has already put the client behind the proxy here."""
    client = scope.get("client")
    host = client[0] if client else ""
    if not host:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]  # a Unix socket or a test transport's name
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


class AuthenticationMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP, ScopeType.WEBSOCKET)

    def __init__(self, authenticate: Authenticate) -> None:
        self.authenticate = authenticate

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        token = bearer_token(scope) if scope["path"].startswith(API_PREFIX) else None
        if token is None:
            scope.setdefault("user", None)  # anonymous (``request.user`` is None, not an error)
        else:
            scope["user"] = None
            try:
                principal = await self.authenticate(AuthenticateCommand(token))
                # The use cases record where an action came from (the audit log).
                scope["user"] = dataclasses.replace(principal, client_ip=client_host(scope))
            except Unauthenticated as exc:
                scope.setdefault("state", {})[AUTH_ERROR_STATE] = exc
        await next_app(scope, receive, send)


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The caller, or the reason there is none (a rejected token, or no token at all)."""
    user = connection.scope.get("user")
    if isinstance(user, Principal):
        return user
    failure = connection.scope.get("state", {}).get(AUTH_ERROR_STATE)
    if isinstance(failure, DomainError):
        raise failure
    raise AuthenticationRequired("Sign in and send `Authorization: Bearer <token>`")


# Guards are coroutine functions on purpose: Litestar runs a plain function guard in a worker thread
# (anyio.to_thread), a thread hop per guard per request for what is a dictionary lookup.


async def require_principal(request: Request[Any, Any, Any]) -> None:
    """The ``/api/v1`` router's ``before_request`` hook: every HTTP route needs a signed-in caller unless it
    is marked ``opt={"public": True}`` (the WebSocket chat is public and signs its caller in itself).

    A hook, not a guard: Litestar hands each guard a copy of the route handler (``copy(self)``, per
    request), ~2.4 % of a streamed reply's CPU for a dictionary lookup. A handler or controller of its own
    ``before_request`` would replace this one: none may have one (a test walks every route)."""
    if not request.route_handler.opt.get(PUBLIC_OPT):
        principal_of(request)


def requires(
    permission: Permission,
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]:
    """A guard that lets through only callers holding ``permission`` (never a role name)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if not principal_of(connection).can(permission):
            raise Forbidden(f"This needs the {permission.value} permission")

    guard.__name__ = f"requires_{permission.name.lower()}"
    return guard


async def provide_principal(request: Request[Any, Any, Any], container: SkipValidation[Container]) -> Principal:
    """The ``principal`` dependency of every ``/api/v1`` handler.

    It names ``container`` (the app's dependency, already at hand) only to be resolved after it: Litestar
    resolves the dependencies of one level together in an anyio task group, a task each (two tasks per
    request for a handler taking both, ~4 % of a streamed reply's CPU); one level after the other they
    are plain awaits."""
    return principal_of(request)
