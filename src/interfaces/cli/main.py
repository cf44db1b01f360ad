"""``parley``: the admin command line.

Every command loads the same settings as the API and builds only the part of the container it uses
(src/infrastructure/wiring/cli.py). Errors print one line to stderr and exit non-zero: 2 for bad
configuration or usage, 1 for anything else (src/interfaces/cli/runtime.py).

Each context's commands live in their own module, which lists them in ``COMMANDS``; a new module
is one more entry in ``COMMAND_MODULES``. Modules import click and the runtime only: what a command
needs is imported when it runs, so ``parley --help`` loads no adapter.
"""

from __future__ import annotations

import importlib
import json
import signal
import sys
from collections.abc import Callable
from typing import Any

import click

from src.interfaces.cli import (
    ai,
    audit,
    chat,
    db,
    jobs,
    knowledge,
    llm,
    notifications,
    status,
    terminal_chat,
    usage,
    users,
)
from src.interfaces.cli.runtime import EXIT_USAGE, fail, one_line_errors, settings_or_exit

#: Front doors are started by their entry point, as a process manager would: the CLI does not
#: import the HTTP or worker code (the layer contracts keep the three front doors apart).
HTTP_APP_FACTORY = "src.interfaces.http.app:create_served_app"
#: httptools with a bound on request heads (431): see interfaces/http/server_protocol.py.
HTTP_PROTOCOL = "src.interfaces.http.server_protocol:BoundedHttpToolsProtocol"
WORKER_ENTRY = "src.interfaces.worker.main:run_worker"


def _entry(target: str) -> Callable[..., Any]:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)  # type: ignore[no-any-return]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Parley: self-hostable AI chat & knowledge platform.

    Configuration comes from the environment and an optional .env file (see .env.example).
    """


@cli.command()
def version() -> None:
    """Print Parley's version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        click.echo(f"parley {package_version('parley')}")
    except PackageNotFoundError:
        click.echo("parley 0.0.0+local")


@cli.command()
@click.option("--host", default=None, help="Interface to bind (default: HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: PORT, 8000).")
@click.option("--reload", is_flag=True, help="Restart on code changes (development only).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes.")
@one_line_errors
def serve(host: str | None, port: int | None, reload: bool, workers: int) -> None:
    """Serve the HTTP API (REST, SSE and WebSocket) with uvicorn."""
    import uvicorn

    settings = settings_or_exit()
    if reload and workers > 1:
        fail("--reload and --workers cannot be combined", EXIT_USAGE)
    if port is not None and not 1 <= port <= 65535:
        fail("--port must be between 1 and 65535", EXIT_USAGE)
    # uvicorn shuts down gracefully on SIGTERM and then re-raises it; exit 0 when it does, as
    # process managers expect from a clean stop.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        HTTP_APP_FACTORY,
        factory=True,
        http=HTTP_PROTOCOL,
        host=host or settings.server.host,
        port=port or settings.server.port,
        reload=reload,
        reload_dirs=["src"] if reload else None,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        # Only these proxies may set the client address (X-Forwarded-For), which rate limits key on.
        forwarded_allow_ips=settings.server.forwarded_allow_ips,
        server_header=False,
        # WebSocket chat frames are at most 64 KiB (interfaces/http/ws/frames.py): a bigger one is
        # refused by the protocol layer with close code 1009 before it is ever buffered whole.
        ws_max_size=64 * 1024,
        timeout_graceful_shutdown=max(1, int(settings.shutdown_timeout)),
        # Behind a balancer that keeps connections to the server (HAProxy, nginx upstream keepalive,
        # cloud load balancers), the server must outlast the balancer's idle timeout; uvicorn's 5 s
        # default closes connections the balancer is about to reuse, and the request is lost.
        timeout_keep_alive=max(1, int(settings.server.keep_alive_timeout)),
    )


@cli.command()
@one_line_errors
def worker() -> None:
    """Run background jobs from the Redis queue (SAQ). Needs REDIS_URL.

    Without Redis there is nothing to run here: the API runs the same jobs itself.
    """
    settings = settings_or_exit()
    if not settings.redis.url:
        fail("REDIS_URL is not set; without Redis the API runs background jobs in-process", EXIT_USAGE)
    _entry(WORKER_ENTRY)(settings)


# --- config ----------------------------------------------------------------------------------


@cli.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def config_show(as_json: bool) -> None:
    """Print the effective settings, with secrets masked."""
    shown = settings_or_exit().masked()
    if as_json:
        click.echo(json.dumps(shown, indent=2))
        return
    width = max(len(k) for k in shown)
    for key, value in shown.items():
        click.echo(f"{key:<{width}}  {value}")


#: The command modules, each adding its ``COMMANDS`` to ``parley``.
COMMAND_MODULES = (db, jobs, users, llm, knowledge, chat, usage, notifications, terminal_chat, ai, audit, status)

for _module in COMMAND_MODULES:
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    cli(prog_name="parley")


if __name__ == "__main__":
    main()
