"""Running Parley apps in the test's event loop, with routes to limit and a chosen client address.

``httpx.ASGITransport`` (unlike Litestar's test client) serves concurrent requests concurrently and
lets each client set its connection address, which is what rate limits are keyed on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from litestar import Controller, Litestar, get
from litestar.types import ASGIApp, Receive, Scope, Send

from src.domain.shared.rate_limit import RateLimitPolicy
from src.infrastructure.container import build_container
from src.infrastructure.settings import Settings
from src.interfaces.http.app import create_app

#: A policy the exactness tests attach to a route: a long window, so nothing comes back mid-test.
EXACT = RateLimitPolicy("exact", limit=50, window_seconds=3600)


class LimitedController(Controller):
    path = "/probe"

    @get("/plain", summary="Limited by the default policies")
    async def plain(self) -> dict[str, str]:
        return {"ok": "plain"}

    @get("/login", opt={"rate_limit": "login"}, summary="Limited by the login policy")
    async def login(self) -> dict[str, str]:
        return {"ok": "login"}

    @get("/exact", opt={"rate_limit": EXACT.name}, summary="Limited by the exactness tests' policy")
    async def exact(self) -> dict[str, str]:
        return {"ok": "exact"}

    @get("/open", opt={"rate_limit": False}, summary="Never limited")
    async def open_route(self) -> dict[str, str]:
        return {"ok": "open"}


class AiController(Controller):
    """A policy set on a controller applies to each of its routes."""

    path = "/probe/ai"
    opt = {"rate_limit": "ai_free"}

    @get("/ask", summary="Limited by the controller's policy")
    async def ask(self) -> dict[str, str]:
        return {"ok": "ai"}


class SignedInUser:
    """What an authentication middleware will put in ``scope["user"]``."""

    def __init__(self, user_id: str, permissions: frozenset[str] = frozenset()) -> None:
        self.id = user_id
        self.permissions = permissions


def signed_in_from_header(app: ASGIApp) -> ASGIApp:
    """Stand-in for authentication: ``X-Test-User: <id>[;perm,perm]`` becomes ``scope["user"]``.

    Wrapped outside routing, as Litestar's own auth middleware runs before the rate limiter.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope.get("headers", []):
            if name == b"x-test-user":
                user_id, _, permissions = value.decode().partition(";")
                scope["user"] = SignedInUser(user_id, frozenset(p for p in permissions.split(",") if p))
        await app(scope, receive, send)

    return middleware


def build_app(settings: Settings, *, extra_policies: tuple[RateLimitPolicy, ...] = (EXACT,)) -> Litestar:
    container = build_container(settings, role="api")
    for policy in extra_policies:
        container.rate_limit_policies = container.rate_limit_policies.with_policy(policy)
    app = create_app(settings, container, extra_route_handlers=[LimitedController, AiController])
    app.asgi_handler = signed_in_from_header(app.asgi_handler)
    return app


ClientFactory = Callable[..., httpx.AsyncClient]


@asynccontextmanager
async def serving(*apps: Litestar) -> AsyncIterator[ClientFactory]:
    """Run the apps' lifespans; yields ``client(app_index=0, ip="203.0.113.7")``."""
    async with AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(app.lifespan())

        def client(index: int = 0, ip: str = "203.0.113.7", **kwargs: Any) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=apps[index], client=(ip, 40000))  # type: ignore[arg-type]
            http = httpx.AsyncClient(transport=transport, base_url="http://parley.test", **kwargs)
            stack.push_async_callback(http.aclose)
            return http

        yield client
