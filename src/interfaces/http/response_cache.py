"""HTTP response caching for the GET routes that opt in, keyed per user where the data is a user's.

A route opts in through its ``opt`` (on the handler, or on a controller or router for all of its
routes)::

    @get("/articles", opt={"cache": {"ttl": 30, "scope": "public", "namespace": "articles"}})

- ``namespace`` (required; letters, digits, ``_``, ``-``, ``.``): what ``invalidate`` clears.
- ``scope``: ``"user"`` (the default) caches under the authenticated user's id, so one user is never
  served another's response, and does not cache at all when there is no user; ``"public"`` shares one
  entry between everyone, for data that is the same for every caller.
- ``ttl``: seconds; ``CACHE_DEFAULT_TTL`` when left out.

Only GET and HEAD requests are looked up, and only 200 responses without ``Set-Cookie`` or
``Cache-Control: no-store`` are stored; every other method passes straight through. The key holds
the namespace, the user (for ``"user"`` scope), the method, the path and the sorted query string.
Cached and fresh responses say ``X-Cache: HIT`` or ``X-Cache: MISS``. When the data changes, the use
case's caller clears the namespace: ``await invalidate(container.cache, "articles")`` for everyone,
or ``invalidate(container.cache, "articles", user_id=user.id)`` for one user's entries.

The cache is fail-soft (see the adapters): with Redis away every lookup is a miss and the route
simply runs. Authentication middleware, when it exists, must come before this one so that
``scope["user"]`` is set when the key is made.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import parse_qsl, quote, urlencode

import msgspec
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from src.application.shared.ports import Cache, CacheStats

CACHE_OPT = "cache"
CACHEABLE_METHODS = frozenset({"GET", "HEAD"})
CACHE_STATUS_HEADER = b"x-cache"
#: Bodies larger than this are served but not stored (a cache entry is one Redis value).
MAX_CACHED_BODY_BYTES = 1024 * 1024
KEY_PREFIX = "http"

CacheScope = Literal["user", "public"]
_NAMESPACE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class CacheOptionError(ValueError):
    """A route's ``opt["cache"]`` is malformed; raised while the app is built."""


@dataclass(frozen=True, slots=True)
class CacheRule:
    namespace: str
    scope: CacheScope
    ttl: float


class CachedResponse(msgspec.Struct, array_like=True):
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def cache_rule(opt: Mapping[str, Any], *, default_ttl: float, where: str = "a route") -> CacheRule | None:
    """The rule from a handler's ``opt``; ``None`` when the route does not opt in."""
    raw = opt.get(CACHE_OPT)
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise CacheOptionError(f'{where}: opt["cache"] must be a mapping with a namespace')
    unknown = set(raw) - {"namespace", "scope", "ttl"}
    if unknown:
        raise CacheOptionError(f'{where}: opt["cache"] has unknown keys {sorted(unknown)}')
    namespace = raw.get("namespace")
    if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
        raise CacheOptionError(f'{where}: opt["cache"]["namespace"] must be 1-64 letters, digits, "_", "-" or "."')
    scope = raw.get("scope", "user")
    if scope not in ("user", "public"):
        raise CacheOptionError(f'{where}: opt["cache"]["scope"] must be "user" or "public", got {scope!r}')
    ttl = raw.get("ttl", default_ttl)
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0:
        raise CacheOptionError(f'{where}: opt["cache"]["ttl"] must be a positive number of seconds, got {ttl!r}')
    return CacheRule(namespace=namespace, scope=scope, ttl=float(ttl))


def check_cache_options(app: Litestar, *, default_ttl: float) -> list[tuple[str, CacheRule]]:
    """Validate every route's cache option now, so a typo stops the app at start; the cached GET routes."""
    cached: list[tuple[str, CacheRule]] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            rule = cache_rule(handler.opt, default_ttl=default_ttl, where=f"{handler.handler_name} ({route.path})")
            if rule is not None and handler.http_methods & CACHEABLE_METHODS:
                cached.append((route.path, rule))
    return cached


def user_id_of(scope: Scope) -> str | None:
    """The authenticated user's id from ``scope["user"]`` (an object or mapping with ``id``, or the id itself)."""
    user = scope.get("user")
    if user is None:
        return None
    identity = user.get("id") if isinstance(user, Mapping) else getattr(user, "id", user)
    if isinstance(identity, bool) or not isinstance(identity, str | int | uuid.UUID):
        return None
    text = str(identity)
    return text or None


def namespace_prefix(namespace: str, user_id: object | None = None) -> str:
    if user_id is None:
        return f"{KEY_PREFIX}:{namespace}:"
    return f"{KEY_PREFIX}:{namespace}:u:{quote(str(user_id), safe='')}:"


def response_cache_key(rule: CacheRule, scope: HTTPScope) -> str | None:
    """The entry's key, or ``None`` when the response must not be cached (user scope, no user)."""
    if rule.scope == "user":
        user_id = user_id_of(scope)
        if user_id is None:
            return None
        owner = namespace_prefix(rule.namespace, user_id)
    else:
        owner = f"{KEY_PREFIX}:{rule.namespace}:p:"
    query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return f"{owner}{scope['method']}:{scope['path']}?{urlencode(sorted(query))}"


async def invalidate(cache: Cache, namespace: str, user_id: object | None = None) -> int:
    """Drop cached responses of ``namespace``: every entry, or only ``user_id``'s; the number dropped."""
    return await cache.delete_prefix(namespace_prefix(namespace, user_id))


def _storable(status: int, headers: Iterable[tuple[bytes, bytes]]) -> bool:
    if status != 200:
        return False
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"set-cookie":
            return False
        if lowered == b"cache-control" and b"no-store" in value.lower():
            return False
    return True


class ResponseCacheMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, cache: Cache, *, default_ttl: float, stats: CacheStats | None = None) -> None:
        self.cache = cache
        self.default_ttl = default_ttl
        self.stats = stats

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        http_scope = cast(HTTPScope, scope)  # this middleware only runs for HTTP scopes
        handler = http_scope.get("route_handler")
        rule = cache_rule(handler.opt, default_ttl=self.default_ttl) if handler is not None else None
        if rule is None or http_scope["method"] not in CACHEABLE_METHODS:
            await next_app(scope, receive, send)
            return
        key = response_cache_key(rule, http_scope)
        if key is None:  # a user's data, and no user
            await next_app(scope, receive, send)
            return
        stats_name = f"{KEY_PREFIX}:{rule.namespace}"

        cached = await self.cache.get(key, CachedResponse)
        if cached is not None:
            self._record(stats_name, hit=True)
            await send(
                {
                    "type": "http.response.start",
                    "status": cached.status,
                    "headers": [*cached.headers, (CACHE_STATUS_HEADER, b"HIT")],
                }
            )
            await send({"type": "http.response.body", "body": cached.body, "more_body": False})
            return
        self._record(stats_name, hit=False)

        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        size = 0
        storable = False
        complete = False

        async def capture(message: Message) -> None:
            nonlocal status, headers, size, storable, complete
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(bytes(name), bytes(value)) for name, value in message.get("headers", [])]
                storable = _storable(status, headers)
                message = {**message, "headers": [*headers, (CACHE_STATUS_HEADER, b"MISS")]}
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                if storable:
                    size += len(body)
                    if size > MAX_CACHED_BODY_BYTES:
                        storable = False
                        chunks.clear()
                    else:
                        chunks.append(body)
                complete = not message.get("more_body", False)
            await send(message)

        await next_app(scope, receive, capture)
        if storable and complete:
            await self.cache.set(key, CachedResponse(status=status, headers=headers, body=b"".join(chunks)), rule.ttl)

    def _record(self, name: str, *, hit: bool) -> None:
        if self.stats is not None:
            self.stats.record(name, hit=hit)
