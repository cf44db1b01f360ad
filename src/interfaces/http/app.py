"""The Litestar application factory, used by uvicorn (``parley serve``) and the tests alike."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, Server
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.types import ControllerRouterHandler

from src.infrastructure.container import Container, build_container
from src.infrastructure.logging import configure_logging, get_logger
from src.infrastructure.settings import Settings, load_settings
from src.interfaces.http import openapi as openapi_document
from src.interfaces.http.auth import SECURITY_SCHEMES, AuthenticationMiddleware
from src.interfaces.http.drain import Drain, DrainGate
from src.interfaces.http.input_checks import ParleyRequest, QueryTextMiddleware
from src.interfaces.http.methods import MethodsMiddleware
from src.interfaces.http.openai.gateway import OpenAIGateway
from src.interfaces.http.openai.gateway import mount as mount_gateway
from src.interfaces.http.problem_fallback import ProblemFallbackMiddleware
from src.interfaces.http.problems import EXCEPTION_HANDLERS
from src.interfaces.http.rate_limit import check_route_policies, rate_limit_middleware
from src.interfaces.http.request_context import RequestContextMiddleware
from src.interfaces.http.response_cache import ResponseCacheMiddleware, check_cache_options
from src.interfaces.http.routes.api import api_v1_router
from src.interfaces.http.routes.metrics import metrics
from src.interfaces.http.routes.system import SystemController
from src.interfaces.http.shutdown import drain_replies_on_stop_signal
from src.interfaces.http.web_ui import LocalScalarPlugin, LocalSwaggerPlugin, web_app_handlers

logger = get_logger("parley.http")

DOCS_PATH = "/schema"


def parley_version() -> str:
    try:
        return version("parley")
    except PackageNotFoundError:
        return "0.0.0+local"


def create_served_app() -> Litestar:
    """The API as ``parley serve`` runs it: once started, what the process holds for good (its modules, the
    app, the container) is moved out of the cyclic garbage collector's reach (``gc.freeze``). A full
    collection walked those ~300,000 objects again every few seconds, ~0.2 s of CPU each time on this
    machine, a pause every request waited out. Tests build apps in one process again and again: not there."""
    return create_app(freeze_after_startup=True)


def create_app(
    settings: Settings | None = None,
    container: Container | None = None,
    *,
    extra_route_handlers: Sequence[ControllerRouterHandler] = (),
    freeze_after_startup: bool = False,
) -> Litestar:
    """Build the API. ``extra_route_handlers`` mounts more routes beside Parley's own. ``freeze_after_startup``:
    see ``create_served_app``."""
    settings = settings or load_settings()
    configure_logging(settings)
    container = container or build_container(settings, role="api")
    app_version = parley_version()
    # SIGTERM: stop taking new work and send WebSocket clients elsewhere first (drain.py).
    drain = Drain()

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await container.startup()
        # SIGTERM: stop taking new work and send sockets away (drain.py), and start ending the replies
        # under way at once so that clients waiting for them are answered within uvicorn's grace period
        # (shutdown.py). Installed in that order, the reply drain's handler runs first and chains on.
        drain.install()
        restore_signals = drain_replies_on_stop_signal(container)
        if settings.identity.secret_key_generated:
            logger.warning("secret_key_generated", path=str(settings.var_dir / "secret_key"))
        logger.info("api_started", version=app_version, env=settings.app_env)
        if freeze_after_startup:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            restore_signals()
            drain.uninstall()
            await drain.finish_replies(container.realtime.reply_tasks, settings.shutdown_timeout)
            await container.shutdown()
            logger.info("api_stopped")

    cors = (
        CORSConfig(
            allow_origins=list(settings.server.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", "X-API-Key"],
            expose_headers=[
                "X-Request-ID",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
                "RateLimit-Policy",
                "Retry-After",
            ],
            allow_credentials="*" not in settings.server.cors_origins,
            max_age=600,
        )
        if settings.server.cors_origins
        else None
    )

    openapi = OpenAPIConfig(
        title="Parley API",
        version=app_version,
        description=(
            "Self-hostable AI chat & knowledge platform. Errors are RFC 9457 problem JSON with "
            "`type`, `title`, `status`, `detail`, `code` and `request_id`."
        ),
        path=DOCS_PATH,
        render_plugins=[  # served from Parley itself (web_ui.py): no CDN, no inline script
            LocalSwaggerPlugin(path="/swagger", dist_dir=settings.server.web_dist_dir),
            LocalScalarPlugin(path="/scalar", dist_dir=settings.server.web_dist_dir),
        ],
        servers=[Server(url="/", description="This server")],
        use_handler_docstrings=True,
        # The OAuth2 password flow: Swagger UI's Authorize button signs in at /api/v1/auth/token.
        components=Components(security_schemes=SECURITY_SCHEMES),
    )

    plugins: list[Any] = []
    if container.tracer_provider is not None:
        # Spans for every HTTP request, named by route template, parented to incoming traceparent.
        plugins.append(OpenTelemetryPlugin(OpenTelemetryConfig(tracer_provider=container.tracer_provider)))

    def provide_container() -> Container:
        return container

    def provide_version() -> str:
        return app_version

    def provide_drain() -> Drain:
        return drain

    dependencies: dict[str, Any] = {
        "container": Provide(provide_container, use_cache=True, sync_to_thread=False),
        "version": Provide(provide_version, use_cache=True, sync_to_thread=False),
        "drain": Provide(provide_drain, use_cache=True, sync_to_thread=False),
    }

    app = Litestar(
        route_handlers=[
            SystemController,
            metrics,
            api_v1_router(),
            *web_app_handlers(settings.server.web_dist_dir),
            *extra_route_handlers,
        ],
        dependencies=dependencies,
        exception_handlers=EXCEPTION_HANDLERS,
        cors_config=cors,
        openapi_config=openapi,
        lifespan=[lifespan],
        plugins=plugins,
        # Response caching for GET routes that opt in with opt={"cache": ...} (response_cache.py). Keep it
        # last (innermost): rate limiting and authentication must run before a cached response is served.
        middleware=[
            # NUL characters in query parameters refused before anything reads them (input_checks.py).
            QueryTextMiddleware(),
            # Authentication first (auth.py): the rate limits and the response cache key on scope["user"].
            AuthenticationMiddleware(container.use_cases.identity.authenticate),
            # Rate limits (rate_limit.py): after routing, so a route's opt={"rate_limit": ...} is known.
            *(
                [
                    rate_limit_middleware(
                        container.rate_limiter,
                        container.rate_limit_policies,
                        exempt_admins=settings.rate_limits.exempt_admins,
                        docs_path=DOCS_PATH,
                    )
                ]
                if settings.rate_limits.enabled
                else []
            ),
            ResponseCacheMiddleware(
                container.cache, default_ttl=settings.redis.cache_default_ttl, stats=container.cache_stats
            ),
        ],
        request_max_body_size=settings.server.max_body_bytes,
        # JSON bodies: strict types, 415/400/422 for hostile input, decoded once (input_checks.py).
        request_class=ParleyRequest,
        debug=False,
        logging_config=None,
    )
    # Wrapped around everything, routing included, so that 404s and 405s get a request id and an
    # access line too (middleware given to Litestar runs only once a route has matched).
    # HEAD wherever GET is, OPTIONS with the path's whole Allow list (methods.py); text and HTML error
    # bodies from below Parley's exception handlers (CORS, /schema) rewritten as problem JSON.
    # The OpenAI-compatible /v1 surface (docs/GATEWAY.md) is served beside the router, inside the context
    # and the drain gate (a draining instance takes no new work).
    gateway = OpenAIGateway(
        container.gateway, container.use_cases.identity.authenticate, max_body_bytes=settings.server.max_body_bytes
    )
    routed = MethodsMiddleware(ProblemFallbackMiddleware(app.asgi_handler), app)
    app.asgi_handler = RequestContextMiddleware(
        DrainGate(mount_gateway(routed, gateway), drain), docs_path=DOCS_PATH, hsts=settings.is_production
    )
    openapi_document.install(app)  # every operation's error answers, strict bodies (openapi.py)
    check_cache_options(app, default_ttl=settings.redis.cache_default_ttl)
    check_route_policies(app, container.rate_limit_policies)
    app.state.container = container
    app.state.settings = settings
    app.state.drain = drain
    return app
