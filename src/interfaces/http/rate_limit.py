"""Rate limits on HTTP routes: which policy applies to a request, its headers, and the 429.

Given to Litestar in ``middleware=``, so it runs once a route has matched and can read the
route's options. The policy for a request is, in order:

- none for ``/health``, ``/ready``, ``/metrics``, the API documentation, CORS preflights and routes
  declared with ``opt={"rate_limit": False}``, and for users holding the ``ratelimit:exempt``
  permission when ``RATE_LIMIT_EXEMPT_ADMINS`` is on;
- the route's named policy, ``opt={"rate_limit": "login"}`` (on a route, controller or router),
  counted per signed-in user, or per client address before sign-in;
- ``user`` for a signed-in user, counted per user;
- ``anonymous`` otherwise, counted per client address.

The client address is the connection's as uvicorn resolved it: ``X-Forwarded-For`` counts only from the
proxies in ``FORWARDED_ALLOW_IPS`` (anyone else can send it).
IPv6 clients are counted per /64 network, the block one subscriber usually gets.

Every limited response carries ``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset``
(whole seconds until the full allowance is back) and ``RateLimit-Policy``; a rejection is 429
problem JSON (``code: rate_limited``) with ``Retry-After`` and ``retry_after``.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Collection, Iterable
from typing import Any

from litestar import Litestar, Request
from litestar.enums import ScopeType
from litestar.middleware.base import DefineMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from src.application.shared.ports import RateLimiter
from src.domain.shared.rate_limit import RateDecision, RateLimitPolicy
from src.infrastructure.observability.metrics import METRICS, labelled
from src.infrastructure.rate_limit.policies import RateLimitPolicies
from src.interfaces.http.problems import CODE_BY_STATUS, problem

#: The route option that names a route's policy (or ``False``: never limited).
OPT_KEY = "rate_limit"
#: The permission that lifts every rate limit (when exempting admins is on).
EXEMPT_PERMISSION = "ratelimit:exempt"
#: Operational endpoints are never limited: probes and scrapers must always get through.
UNLIMITED_PATHS: tuple[str, ...] = ("/health", "/ready", "/metrics")


def rate_limit_middleware(
    limiter: RateLimiter,
    policies: RateLimitPolicies,
    *,
    exempt_admins: bool,
    docs_path: str = "/schema",
) -> DefineMiddleware:
    return DefineMiddleware(
        RateLimitMiddleware, limiter=limiter, policies=policies, exempt_admins=exempt_admins, docs_path=docs_path
    )


def check_route_policies(app: Litestar, policies: RateLimitPolicies) -> None:
    """Fail at start, not at the first request, when a route names a policy that does not exist."""
    unknown: dict[str, list[str]] = {}
    for route in app.routes:
        for handler in _handlers_of(route):
            chosen = handler.opt.get(OPT_KEY)
            if chosen is None or chosen is False:
                continue
            if not isinstance(chosen, str) or chosen not in policies:
                unknown.setdefault(repr(chosen), []).append(route.path)
    if unknown:
        known = ", ".join(sorted(policies.by_name))
        listed = "; ".join(f"{name} on {', '.join(sorted(set(paths)))}" for name, paths in sorted(unknown.items()))
        raise ValueError(f"unknown rate-limit policy: {listed} (known: {known})")


def _handlers_of(route: Any) -> Iterable[Any]:
    handlers = getattr(route, "route_handlers", None)
    if handlers is not None:
        return list(handlers)
    handler = getattr(route, "route_handler", None)
    return [handler] if handler is not None else []


class RateLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        policies: RateLimitPolicies,
        exempt_admins: bool,
        docs_path: str,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.policies = policies
        self.exempt_admins = exempt_admins
        self.unlimited_prefixes = (*UNLIMITED_PATHS, docs_path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chosen = self._policy_for(scope)
        if chosen is None:
            await self.app(scope, receive, send)
            return
        policy, subject = chosen
        decision = await self.limiter.hit(f"{policy.name}:{subject}", policy.limit, policy.window_seconds)
        labelled(METRICS.rate_limit_decisions, policy.name, "allowed" if decision.allowed else "rejected").inc()
        headers = rate_limit_headers(policy, decision)
        if not decision.allowed:
            await self._reject(scope, receive, send, policy, decision, headers)
            return

        encoded = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *encoded]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _policy_for(self, scope: Scope) -> tuple[RateLimitPolicy, str] | None:
        if scope["type"] != ScopeType.HTTP or scope.get("method") == "OPTIONS":
            return None
        if _under(scope["path"], self.unlimited_prefixes):
            return None
        handler = scope.get("route_handler")
        named = handler.opt.get(OPT_KEY) if handler is not None else None
        if named is False:
            return None
        user = scope.get("user")
        user_id = getattr(user, "id", None) if user is not None else None
        if self.exempt_admins and user is not None and EXEMPT_PERMISSION in _permissions_of(user):
            return None
        if isinstance(named, str):
            subject = f"user:{user_id}" if user_id is not None else f"ip:{client_address(scope)}"
            return self.policies[named], subject
        if user_id is not None:
            return self.policies.user, f"user:{user_id}"
        return self.policies.anonymous, f"ip:{client_address(scope)}"

    async def _reject(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        policy: RateLimitPolicy,
        decision: RateDecision,
        headers: dict[str, str],
    ) -> None:
        request: Request[Any, Any, Any] = Request(scope, receive)
        retry_after = decision.retry_after_header
        code, title = CODE_BY_STATUS[429]
        response = problem(
            request,
            status=429,
            code=code,
            title=title,
            detail=(
                f"More than {policy.limit} requests in {_duration(policy.window_seconds)}; try again in {retry_after} s"
            ),
            headers={**headers, "Retry-After": str(retry_after)},
            retry_after=retry_after,
        )
        await response.to_asgi_response(app=None, request=request)(scope, receive, send)


def rate_limit_headers(policy: RateLimitPolicy, decision: RateDecision) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(max(0, decision.remaining)),
        "RateLimit-Reset": str(math.ceil(decision.reset_after)),
        "RateLimit-Policy": f"{policy.limit};w={math.ceil(policy.window_seconds)}",
    }


def client_address(scope: Scope) -> str:
    """The connection's address; IPv6 as its /64 network, IPv4-mapped IPv6 as the IPv4 address."""
    client = scope.get("client")
    host = client[0] if client else ""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # a Unix socket or a test transport's name
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _permissions_of(user: Any) -> Collection[str]:
    permissions = getattr(user, "permissions", None)
    if isinstance(permissions, str) or not isinstance(permissions, Collection):
        return ()
    return permissions


def _under(path: str, prefixes: Iterable[str]) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


def _duration(seconds: float) -> str:
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}" + ("s" if count != 1 else "")
    return f"{seconds:g} seconds"
