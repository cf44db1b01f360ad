"""The HTTP server: where it listens, what it accepts, whom it trusts, and the address it is reached at."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from src.infrastructure.settings.reading import HTTP, ConfigError, Reader, is_http_url, manual, read_group, var

_HOST, _PORT = "127.0.0.1", 8000


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = var("HOST", _HOST)
    port: int = var("PORT", _PORT, minimum=1, maximum=65535)
    max_body_bytes: int = var("MAX_BODY_BYTES", 1024 * 1024, minimum=1)
    forwarded_allow_ips: str = var("FORWARDED_ALLOW_IPS", "127.0.0.1")
    #: Seconds an idle keep-alive connection stays open. Longer than a load balancer's own idle timeout
    #: (60 s for most), so the balancer never sends a request down a connection the server is closing.
    keep_alive_timeout: float = var("KEEP_ALIVE_TIMEOUT", 75.0, minimum=1.0)
    #: Origins allowed by CORS (``*``: any); empty: no CORS.
    cors_origins: tuple[str, ...] = manual("CORS_ORIGINS", ())
    #: The address links in e-mails point at (default: ``http://HOST:PORT``).
    public_url: str = manual("PUBLIC_URL", f"http://{_HOST}:{_PORT}")
    #: The built web app (``web/dist``); when it is missing Parley serves the API alone.
    web_dist_dir: Path = var("WEB_DIST_DIR", Path("web/dist"))


def load_server(env: Reader) -> ServerSettings:
    cors = tuple(o.strip() for o in env.text("CORS_ORIGINS", "").split(",") if o.strip())
    for origin in cors:
        if origin != "*" and not is_http_url(origin):
            raise ConfigError("CORS_ORIGINS", f"has {origin!r}, which is not '*' or an http(s) origin")
    server = read_group(ServerSettings, env, cors_origins=cors)
    public_url = env.url("PUBLIC_URL", schemes=HTTP, default=None) or f"http://{server.host}:{server.port}"
    return replace(server, public_url=public_url.rstrip("/"))
