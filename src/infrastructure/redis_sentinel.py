"""Redis behind Sentinel: ``REDIS_URL=redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db]``.

The Sentinels (port 26379 unless given) are asked which server is the master of ``service``; the
client connects there and asks again after a failover (a connection error or a READONLY reply
sends it back to the Sentinels). ``rediss+sentinel://`` uses TLS to the Redis servers. The user
and password are the Redis servers'; the Sentinels are reached without credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry

SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
DEFAULT_SENTINEL_PORT = 26379


class SentinelUrlError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class SentinelTarget:
    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    ssl: bool = False


def is_sentinel_url(url: str) -> bool:
    return url.partition("://")[0] in SENTINEL_SCHEMES


def parse_sentinel_url(url: str) -> SentinelTarget:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SENTINEL_SCHEMES:
        raise SentinelUrlError(f"must start with {' or '.join(s + '://' for s in SENTINEL_SCHEMES)}")
    location, _, path = rest.partition("/")
    credentials, at, hosts = location.rpartition("@")
    if not at:
        hosts, credentials = location, ""
    username = password = None
    if credentials:
        user, colon, secret = credentials.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    sentinels = []
    for entry in hosts.split(","):
        host, colon, port = entry.strip().rpartition(":") if ":" in entry else (entry.strip(), "", "")
        if not host:
            raise SentinelUrlError(f"has an empty Sentinel host in {hosts!r}")
        if colon and not port.isdigit():
            raise SentinelUrlError(f"has a Sentinel port that is not a number: {entry!r}")
        sentinels.append((host, int(port) if colon else DEFAULT_SENTINEL_PORT))
    parts = [part for part in path.split("?")[0].split("/") if part]
    if not parts:
        raise SentinelUrlError(
            "must name the Sentinel service after the hosts, e.g. redis+sentinel://host:26379/mymaster/0"
        )
    if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
        raise SentinelUrlError("must end with /<service> or /<service>/<db number>")
    return SentinelTarget(
        sentinels=tuple(sentinels),
        service=unquote(parts[0]),
        db=int(parts[1]) if len(parts) == 2 else 0,
        username=username,
        password=password,
        ssl=scheme == "rediss+sentinel",
    )


def sentinel_client(
    url: str,
    *,
    timeout: float,
    blocking: bool,
    max_connections: int,
    health_check_interval: int = 30,
    retry: Retry | None = None,
) -> Redis:
    """A client of the current master of the URL's service (see ``redis_client`` for ``blocking``)."""
    # Imported here: settings validate Sentinel URLs with this module, and every CLI command loads
    # settings; importing redis costs ~1 s of CPU that only commands using Redis should pay.
    from redis.asyncio import Redis
    from redis.asyncio.sentinel import Sentinel

    target = parse_sentinel_url(url)
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(target.sentinels),
        sentinel_kwargs={"socket_timeout": timeout, "socket_connect_timeout": timeout},
    )
    client: Redis = sentinel.master_for(
        target.service,
        redis_class=Redis,
        db=target.db,
        username=target.username,
        password=target.password,
        ssl=target.ssl,
        socket_timeout=None if blocking else timeout,
        socket_connect_timeout=timeout,
        health_check_interval=health_check_interval,
        max_connections=max_connections,
        retry=retry,
    )
    return client
