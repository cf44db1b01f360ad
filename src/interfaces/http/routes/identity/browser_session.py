"""Browser sessions for the web app: the refresh token lives in an HttpOnly cookie, never in script.

``POST /auth/session`` signs in with email and password and answers the access token (kept in the
page's memory) while the refresh token goes into ``parley_refresh``: HttpOnly, SameSite=Strict,
``Secure`` outside development, and scoped to ``/api/v1/auth/session`` so it travels with nothing
else. ``POST /auth/session/refresh`` turns the cookie into a fresh access token (rotating the
cookie) when the page loads or the token is about to expire; ``DELETE /auth/session`` signs out.

Only these routes read a cookie, so they are the only ones a forged cross-site request could ride
on. They take the double-submit token: sign-in sets ``parley_csrf`` (readable by the page, not
HttpOnly) and the cookie-authenticated calls must echo it in ``X-CSRF-Token``; a request whose
``Origin`` (or ``Sec-Fetch-Site``) says it comes from another site is refused before that.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, post
from litestar.datastructures import Cookie
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, SkipValidation
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from src.application.identity.authenticate import AuthenticateCommand
from src.application.identity.refresh_session import RefreshSessionCommand
from src.application.identity.sign_out import SignOutCommand
from src.application.identity.views import SignInCommand, TokenPair
from src.domain.shared.errors import DomainError, PermissionDenied, Unauthenticated
from src.infrastructure.container import Container
from src.infrastructure.settings import Settings
from src.interfaces.http.auth import PUBLIC_OPT, client_host, principal_of
from src.interfaces.http.problems import problem
from src.interfaces.http.rate_limit import client_address
from src.interfaces.http.routes.identity.auth import NO_STORE, log_security_event

SESSION_PATH = "/api/v1/auth/session"
REFRESH_COOKIE = "parley_refresh"
CSRF_COOKIE = "parley_csrf"
CSRF_HEADER = "x-csrf-token"


class CsrfFailed(PermissionDenied):
    code = "csrf_failed"
    title = "Cross-site request refused"


class NoBrowserSession(Unauthenticated):
    code = "no_session"
    title = "No browser session"


class BrowserSignInRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    password: str


class BrowserSessionResponse(msgspec.Struct):
    access_token: str
    token_type: str
    expires_in: int
    csrf_token: str


def _cookies(settings: Settings, refresh_token: str, csrf_token: str) -> list[Cookie]:
    secure = settings.app_env != "development"
    max_age = settings.identity.refresh_token_ttl_days * 86_400
    return [
        Cookie(
            key=REFRESH_COOKIE,
            value=refresh_token,
            path=SESSION_PATH,
            httponly=True,
            samesite="strict",
            secure=secure,
            max_age=max_age,
        ),
        # Read by the page to echo it in X-CSRF-Token; worthless to anyone who cannot read this origin.
        Cookie(key=CSRF_COOKIE, value=csrf_token, path="/", samesite="strict", secure=secure, max_age=max_age),
    ]


def _expired(settings: Settings) -> list[Cookie]:
    secure = settings.app_env != "development"
    return [
        Cookie(
            key=REFRESH_COOKIE, value="", path=SESSION_PATH, httponly=True, samesite="strict", secure=secure, max_age=0
        ),
        Cookie(key=CSRF_COOKIE, value="", path="/", samesite="strict", secure=secure, max_age=0),
    ]


def _session_response(pair: TokenPair, settings: Settings) -> Response[BrowserSessionResponse]:
    csrf_token = secrets.token_urlsafe(32)
    body = BrowserSessionResponse(
        access_token=pair.access_token, token_type=pair.token_type, expires_in=pair.expires_in, csrf_token=csrf_token
    )
    return Response(body, headers=NO_STORE, cookies=_cookies(settings, pair.refresh_token, csrf_token))


def check_same_site(request: Request[Any, Any, Any]) -> None:
    """Refuse what the browser itself says comes from another site (before any cookie is looked at)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise CsrfFailed("This request comes from another site")
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        host = request.headers.get("host", "")
        if origin.split("://", 1)[-1] != host:
            raise CsrfFailed("The Origin header names another site")


def check_csrf(request: Request[Any, Any, Any]) -> None:
    check_same_site(request)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not header or not hmac.compare_digest(cookie.encode(), header.encode()):
        raise CsrfFailed("Send the parley_csrf cookie's value in the X-CSRF-Token header")


class BrowserSessionController(Controller):
    path = "/auth/session"
    tags = ["auth"]

    @post(
        "/",
        opt={PUBLIC_OPT: True},
        status_code=HTTP_200_OK,
        summary="Sign in a browser (refresh token in an HttpOnly cookie)",
        description=(
            "For the web app. Signs in like the password grant and answers the access token; the refresh token "
            "is set as the `parley_refresh` cookie (HttpOnly, SameSite=Strict, Secure outside development, path "
            "`/api/v1/auth/session`) and `parley_csrf` holds the token to echo in `X-CSRF-Token` on refresh and "
            "sign-out. 403 `invalid_credentials` for a wrong email or password (one answer for both)."
        ),
        responses={
            403: ResponseSpec(
                None, description="`invalid_credentials`, or `csrf_failed` for a request from another site"
            ),
            429: ResponseSpec(None, description="`too_many_attempts`: too many failed sign-ins; see `Retry-After`"),
        },
    )
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[BrowserSignInRequest],
        container: SkipValidation[Container],
    ) -> Response[BrowserSessionResponse]:
        check_same_site(request)
        command = SignInCommand(email=data.email, password=data.password, client_ip=client_address(request.scope))
        try:
            pair = await container.use_cases.identity.sign_in(command)
        except DomainError as exc:
            log_security_event(exc, request)
            raise
        return _session_response(pair, container.settings)

    @post(
        "/refresh",
        opt={PUBLIC_OPT: True},
        status_code=HTTP_200_OK,
        summary="Renew a browser session from its cookie",
        description=(
            "Exchanges the `parley_refresh` cookie for a new access token and rotates the cookie. Needs the "
            "`X-CSRF-Token` header (403 `csrf_failed`); 401 `no_session` without the cookie, and the refresh "
            "grant's errors (`session_revoked`, `refresh_token_reused`, ...) when it no longer works."
        ),
        responses={
            401: ResponseSpec(None, description="`no_session`, or the session no longer works (cookies cleared)"),
            403: ResponseSpec(None, description="`csrf_failed`: the `X-CSRF-Token` header is missing or wrong"),
        },
    )
    async def refresh(
        self, request: Request[Any, Any, Any], container: SkipValidation[Container]
    ) -> Response[BrowserSessionResponse]:
        check_csrf(request)
        refresh_token = request.cookies.get(REFRESH_COOKIE)
        if not refresh_token:
            raise NoBrowserSession("Sign in first: this browser holds no session")
        try:
            pair = await container.use_cases.identity.refresh_session(
                RefreshSessionCommand(refresh_token, client_ip=client_host(request.scope))
            )
        except DomainError as exc:
            log_security_event(exc, request)
            if not isinstance(exc, Unauthenticated):
                raise
            # The session is over: say why, and drop the cookies that can no longer do anything.
            answer = problem(request, status=401, code=exc.code, title=exc.title, detail=exc.detail, headers=NO_STORE)
            for cookie in _expired(container.settings):
                answer.set_cookie(cookie)
            return answer  # type: ignore[return-value]
        return _session_response(pair, container.settings)

    @delete(
        "/",
        opt={PUBLIC_OPT: True},
        status_code=HTTP_204_NO_CONTENT,
        summary="Sign a browser out",
        description=(
            "Revokes the session of the `parley_refresh` cookie and clears both cookies. Needs `X-CSRF-Token`. "
            "Answers 204 also when the session was already gone."
        ),
        responses={403: ResponseSpec(None, description="`csrf_failed`: the `X-CSRF-Token` header is missing or wrong")},
    )
    async def sign_out(self, request: Request[Any, Any, Any], container: SkipValidation[Container]) -> Response[None]:
        check_csrf(request)
        refresh_token = request.cookies.get(REFRESH_COOKIE)
        if refresh_token:
            with contextlib.suppress(DomainError):
                if request.scope.get("user") is not None:
                    await container.use_cases.identity.sign_out(principal_of(request), SignOutCommand(refresh_token))
                else:
                    # An expired access token must not keep the session alive: revoke by the cookie alone.
                    pair = await container.use_cases.identity.refresh_session(
                        RefreshSessionCommand(refresh_token, client_ip=client_host(request.scope))
                    )
                    await container.use_cases.identity.sign_out(
                        await container.use_cases.identity.authenticate(AuthenticateCommand(pair.access_token)),
                        SignOutCommand(pair.refresh_token),
                    )
        return Response(None, status_code=HTTP_204_NO_CONTENT, cookies=_expired(container.settings))
