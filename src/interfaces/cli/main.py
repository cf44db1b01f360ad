"""``parley``: the admin command line.

Every command loads the same settings and builds the same container as the API. Errors print
one line to stderr and exit non-zero: 2 for bad configuration or usage, 1 for anything else.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import click

from src.infrastructure.settings import ConfigError, Settings, load_settings
from src.interfaces.cli.ai import AI_COMMANDS
from src.interfaces.cli.chat import CHAT_COMMANDS, USERS_COMMANDS
from src.interfaces.cli.knowledge import KNOWLEDGE_COMMANDS
from src.interfaces.cli.notifications import NOTIFICATION_COMMANDS
from src.interfaces.cli.terminal_chat import chat_command
from src.interfaces.cli.usage import USAGE_COMMANDS

F = TypeVar("F", bound=Callable[..., Any])

EXIT_FAILURE = 1
EXIT_USAGE = 2

#: Front doors are started by their entry point, as a process manager would: the CLI does not
#: import the HTTP or worker code (the layer contracts keep the three front doors apart).
HTTP_APP_FACTORY = "src.interfaces.http.app:create_app"
#: httptools with a bound on request heads (431): see interfaces/http/server_protocol.py.
HTTP_PROTOCOL = "src.interfaces.http.server_protocol:BoundedHttpToolsProtocol"
WORKER_ENTRY = "src.interfaces.worker.main:run_worker"


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def settings_or_exit() -> Settings:
    """Load and validate the settings, and route every log line to stderr through structlog."""
    from src.infrastructure.logging import configure_logging

    try:
        settings = load_settings()
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_USAGE)
    configure_logging(settings)
    return settings


def one_line_errors(func: F) -> F:
    """Turn any unexpected failure into one readable line instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except ConfigError as exc:
            click.echo(str(exc), err=True)
            sys.exit(EXIT_USAGE)
        except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
            first_line = (str(exc).splitlines() or [""])[0]
            fail(f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__)

    return wrapper  # type: ignore[return-value]


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
        host=host or settings.host,
        port=port or settings.port,
        reload=reload,
        reload_dirs=["src"] if reload else None,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        # Only these proxies may set the client address (X-Forwarded-For), which rate limits key on.
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        # WebSocket chat frames are at most 64 KiB (interfaces/http/ws/frames.py): a bigger one is
        # refused by the protocol layer with close code 1009 before it is ever buffered whole.
        ws_max_size=64 * 1024,
        timeout_graceful_shutdown=max(1, int(settings.shutdown_timeout)),
        # Behind a balancer that keeps connections to the server (HAProxy, nginx upstream keepalive,
        # cloud load balancers), the server must outlast the balancer's idle timeout; uvicorn's 5 s
        # default closes connections the balancer is about to reuse, and the request is lost.
        timeout_keep_alive=max(1, int(settings.keep_alive_timeout)),
    )


@cli.command()
@one_line_errors
def worker() -> None:
    """Run background jobs from the Redis queue (SAQ). Needs REDIS_URL.

    Without Redis there is nothing to run here: the API runs the same jobs itself.
    """
    settings = settings_or_exit()
    if not settings.redis_url:
        fail("REDIS_URL is not set; without Redis the API runs background jobs in-process", EXIT_USAGE)
    _entry(WORKER_ENTRY)(settings)


# --- db --------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database migrations (Alembic)."""


def _migrator() -> Any:
    from src.infrastructure.persistence.migrator import Migrator

    return Migrator(settings_or_exit())


@db.command()
@click.argument("revision", default="head")
@click.option("--sql", is_flag=True, help="Print the SQL instead of running it.")
@one_line_errors
def upgrade(revision: str, sql: bool) -> None:
    """Upgrade the database to REVISION (default: head)."""
    _migrator().upgrade(revision, sql=sql)
    if not sql:
        click.echo(f"database upgraded to {revision}")


@db.command()
@click.argument("revision", default="-1")
@click.option("--sql", is_flag=True, help="Print the SQL instead of running it.")
@one_line_errors
def downgrade(revision: str, sql: bool) -> None:
    """Downgrade the database to REVISION (default: one step back; 'base' empties it)."""
    _migrator().downgrade(revision, sql=sql)
    if not sql:
        click.echo(f"database downgraded to {revision}")


@db.command()
@one_line_errors
def current() -> None:
    """Show the revision the database is at, and whether it is up to date."""
    state = _migrator().state()
    current_text = ", ".join(state.current) or "none (empty database)"
    click.echo(f"current: {current_text}")
    click.echo(f"head:    {', '.join(state.heads)}")
    click.echo("status:  up to date" if state.up_to_date else "status:  behind, run `parley db upgrade`")


@db.command()
@click.option("-m", "--message", required=True, help="What the revision changes.")
@click.option("--empty", is_flag=True, help="Write an empty revision instead of autogenerating it.")
@one_line_errors
def revision(message: str, empty: bool) -> None:
    """Write a new migration, autogenerated from the models."""
    for path in _migrator().revision(message, autogenerate=not empty):
        click.echo(f"wrote {path}")


@db.command()
@one_line_errors
def check() -> None:
    """Exit 1 when the models and the migrated database disagree."""
    differences = _migrator().pending_model_changes()
    if differences:
        for diff in differences:
            click.echo(f"  {diff}", err=True)
        fail(f"{len(differences)} difference(s) between the models and the database; write a migration")
    click.echo("models and database agree")


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


# --- jobs ------------------------------------------------------------------------------------


@cli.group()
def jobs() -> None:
    """Background jobs."""


@jobs.command("list")
@one_line_errors
def jobs_list() -> None:
    """List the jobs Parley knows, with their schedules."""
    from src.infrastructure.container import build_container

    container = build_container(settings_or_exit(), role="cli")
    for spec in container.jobs:
        schedule = spec.cron or "on demand"
        click.echo(f"{spec.name:<24} {schedule:<16} timeout {spec.timeout_seconds:g}s, {spec.retries} retries")


@jobs.command("run")
@click.argument("name")
@click.option("--payload", default="{}", help="JSON object passed to the job.")
@one_line_errors
def jobs_run(name: str, payload: str) -> None:
    """Run job NAME now, in this process, and print its result."""
    from src.infrastructure.container import build_container

    try:
        data = json.loads(payload)
    except json.JSONDecodeError as exc:
        fail(f"--payload is not valid JSON ({exc.msg})", EXIT_USAGE)
    if not isinstance(data, dict):
        fail("--payload must be a JSON object", EXIT_USAGE)
    container = build_container(settings_or_exit(), role="cli")
    if name not in container.jobs:
        known = ", ".join(s.name for s in container.jobs)
        fail(f"unknown job {name!r}; known jobs: {known}", EXIT_USAGE)

    async def run() -> Any:
        await container.startup()
        try:
            return await container.jobs.run(name, data, None)
        finally:
            await container.shutdown()

    result = asyncio.run(run())
    click.echo(json.dumps({"job": name, "result": result}, default=str))


NO_REDIS_FOR_FAILED_JOBS = (
    "REDIS_URL is not set: without Redis the API runs jobs in its own process, logs each failure "
    "(event job_failed) and keeps no list this command could read"
)


def _run_with_container(work: Callable[[Any], Any]) -> Any:
    """Build the CLI's container (Redis required), run ``work(container)`` inside it, close it."""
    from src.infrastructure.container import build_container

    settings = settings_or_exit()
    if not settings.redis_url:
        fail(NO_REDIS_FOR_FAILED_JOBS, EXIT_USAGE)
    container = build_container(settings, role="cli")

    async def run() -> Any:
        await container.startup()
        try:
            return await work(container)
        finally:
            await container.shutdown()

    return asyncio.run(run())


@jobs.command("failed")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="How many to show.")
@one_line_errors
def jobs_failed(limit: int) -> None:
    """List jobs that failed after their last retry, most recent first. Needs REDIS_URL."""
    failed = _run_with_container(lambda container: container.failed_jobs.list(limit))
    if not failed:
        click.echo("no failed jobs")
        return
    width = max(len("ID"), *(len(job.key) for job in failed))
    click.echo(f"{'ID':<{width}}  {'JOB':<20}  {'ATTEMPTS':>8}  {'FAILED AT (UTC)':<19}  ERROR")
    for job in failed:
        when = job.failed_at.strftime("%Y-%m-%d %H:%M:%S") if job.failed_at else "-"
        click.echo(f"{job.key:<{width}}  {job.job_name:<20}  {job.attempts:>8}  {when:<19}  {job.error}")


@jobs.command("retry")
@click.argument("job_id")
@one_line_errors
def jobs_retry(job_id: str) -> None:
    """Queue the failed job JOB_ID (from `parley jobs failed`) again, with all its retries. Needs REDIS_URL."""
    retried = _run_with_container(lambda container: container.failed_jobs.retry(job_id))
    if retried is None:
        fail(f"no failed job with id {job_id!r}; `parley jobs failed` lists them")
    click.echo(f"re-queued {job_id} ({retried.job_name})")


# --- users -----------------------------------------------------------------------------------

#: The CLI's table of domain errors: bad input is a usage error (2), anything else (unknown user,
#: conflict) a failure (1).
EXIT_BY_ERROR_KIND: dict[str, int] = {"invalid": EXIT_USAGE}
ROLES = ("member", "admin")
TIERS = ("free", "pro")


def _identity(work: Callable[[Any], Any]) -> Any:
    """Build the container, run ``work(container)`` with it, close it; a domain error is one line."""
    from src.infrastructure.container import build_container

    container = build_container(settings_or_exit(), role="cli")

    async def run() -> Any:
        await container.startup()
        try:
            return await work(container)
        finally:
            await container.shutdown()

    return _run_reporting_domain_errors(run)


def _run_reporting_domain_errors(work: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``work()`` to completion; a domain error is one line and its exit code."""
    from src.domain.shared.errors import DomainError

    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except DomainError as exc:
        fail(exc.detail, EXIT_BY_ERROR_KIND.get(exc.kind, EXIT_FAILURE))


def _read_password(from_stdin: bool) -> str:
    """One line from stdin (``--password-stdin``, for scripts), or a prompt without echo, asked twice."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            fail("--password-stdin: nothing was read from stdin", EXIT_USAGE)
        return line
    prompted: str = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return prompted


async def _find_user(container: Any, who: str) -> Any:
    """The user named by an id or an email (an unknown one is one line and exit 1)."""
    import uuid

    from src.domain.identity.errors import UserNotFound
    from src.domain.identity.model import Principal

    system = Principal.system()
    try:
        user_id = uuid.UUID(who)
    except ValueError:
        user_id = None
    if user_id is not None:
        try:
            return await container.use_cases.get_user(system, user_id)
        except UserNotFound:
            raise UserNotFound(f"no user with id {who}") from None
    email = who.strip().lower()
    offset = 0
    while True:  # the search matches parts of emails: walk its pages for the exact one
        page = await container.use_cases.list_users(system, email, 100, offset)
        for user in page.items:
            if user.email == email:
                return user
        offset += len(page.items)
        if not page.items or offset >= page.total:
            raise UserNotFound(f"no user with email or id {who!r}")


async def _act_as(container: Any, who: str) -> Any:
    """A ``Principal`` for the user named by ``who``, to run use cases as them: their permissions,
    limits, budget and only their own conversations (``via`` ``cli``, not ``system``, which is the
    operator reading anyone's). An unknown or deactivated user is one line and exit 1."""
    from src.domain.identity.errors import AccountInactive
    from src.domain.identity.model import Principal, permissions_of

    user = await _find_user(container, who)
    if not user.is_active:
        raise AccountInactive(f"{user.email} is deactivated")
    return Principal(
        user_id=user.id,
        email=user.email,
        role=user.role,
        tier=user.tier,
        permissions=permissions_of(user.role),
        via="cli",
    )


def _user_line(user: Any) -> str:
    status = "active" if user.is_active else "deactivated"
    return f"{user.email} ({user.id}): {user.role.value}, {user.tier.value}, {status}"


@cli.group()
def users() -> None:
    """Accounts: create, list, change role or tier, deactivate, reset passwords.

    USER is an email address or a user id.
    """


@users.command("create")
@click.option("--email", required=True, help="The new user's email (their sign-in name).")
@click.option("--display-name", default=None, help="Shown to others (default: the part of the email before @).")
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True)
@click.option("--tier", type=click.Choice(TIERS), default="free", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin instead of prompting.")
@one_line_errors
def users_create(email: str, display_name: str | None, role: str, tier: str, password_stdin: bool) -> None:
    """Create an account (the first admin: --role admin)."""
    from src.application.identity.views import RegisterUserCommand
    from src.domain.identity.model import Role, Tier

    password = _read_password(password_stdin)
    command = RegisterUserCommand(
        email=email,
        password=password,
        display_name=display_name or email.strip().partition("@")[0] or email,
        role=Role(role),
        tier=Tier(tier),
    )
    user = _identity(lambda container: container.use_cases.register_user(command))
    click.echo(f"created {_user_line(user)}")


@users.command("list")
@click.option("--q", "query", default=None, help="Part of an email or display name.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@one_line_errors
def users_list(query: str | None, limit: int, offset: int) -> None:
    """List users, newest first, as a table."""
    from src.domain.identity.model import Principal
    from src.infrastructure.wiring.cli import user_directory

    async def work() -> Any:
        async with user_directory(settings_or_exit()) as directory:
            return await directory.list_users(Principal.system(), query, limit, offset)

    page = _run_reporting_domain_errors(work)
    if not page.items:
        click.echo("no users" + (f" matching {query!r}" if query else ""))
        return
    email_width = max(len("EMAIL"), *(len(u.email) for u in page.items))
    name_width = min(30, max(len("NAME"), *(len(u.display_name) for u in page.items)))
    click.echo(
        f"{'ID':<36}  {'EMAIL':<{email_width}}  {'NAME':<{name_width}}  ROLE    TIER  STATUS       CREATED (UTC)"
    )
    for u in page.items:
        status = "active" if u.is_active else "deactivated"
        created = u.created_at.strftime("%Y-%m-%d %H:%M")
        name = u.display_name[:name_width]
        click.echo(
            f"{u.id!s:<36}  {u.email:<{email_width}}  {name:<{name_width}}  {u.role.value:<6}  {u.tier.value:<4}  "
            f"{status:<11}  {created}"
        )
    click.echo(f"{page.offset + 1}-{page.offset + len(page.items)} of {page.total} users")


def _update_user(who: str, **changes: Any) -> Any:
    from src.domain.identity.model import Principal

    async def work(container: Any) -> Any:
        user = await _find_user(container, who)
        return await container.use_cases.update_user(Principal.system(), user.id, **changes)

    return _identity(work)


@users.command("set-role")
@click.argument("user")
@click.argument("role", type=click.Choice(ROLES))
@one_line_errors
def users_set_role(user: str, role: str) -> None:
    """Make USER an admin or a member (their access tokens end: they sign in again)."""
    from src.domain.identity.model import Role

    click.echo(f"updated {_user_line(_update_user(user, role=Role(role)))}")


@users.command("set-tier")
@click.argument("user")
@click.argument("tier", type=click.Choice(TIERS))
@one_line_errors
def users_set_tier(user: str, tier: str) -> None:
    """Put USER on the free or pro tier."""
    from src.domain.identity.model import Tier

    click.echo(f"updated {_user_line(_update_user(user, tier=Tier(tier)))}")


@users.command("deactivate")
@click.argument("user")
@one_line_errors
def users_deactivate(user: str) -> None:
    """Deactivate USER: they cannot sign in, and their sessions and tokens end at once."""
    click.echo(f"updated {_user_line(_update_user(user, is_active=False))}")


@users.command("activate")
@click.argument("user")
@one_line_errors
def users_activate(user: str) -> None:
    """Reactivate USER."""
    click.echo(f"updated {_user_line(_update_user(user, is_active=True))}")


@users.command("reset-password")
@click.argument("user")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin instead of prompting.")
@one_line_errors
def users_reset_password(user: str, password_stdin: bool) -> None:
    """Set a new password for USER; every session of theirs ends."""
    from src.domain.identity.model import Principal

    password = _read_password(password_stdin)

    async def work(container: Any) -> Any:
        found = await _find_user(container, user)
        await container.use_cases.reset_password(Principal.system(), found.id, password)
        return found

    click.echo(f"password reset for {_identity(work).email}")


# --- models and providers --------------------------------------------------------------------


def _with_container(work: Callable[[Any], Any]) -> Any:
    """Build the container, run ``work(container)`` inside it, close it."""
    from src.infrastructure.container import build_container

    container = build_container(settings_or_exit(), role="cli")

    async def run() -> Any:
        await container.startup()
        try:
            return await work(container)
        finally:
            await container.shutdown()

    return asyncio.run(run())


def _price(micros: int | None) -> str:
    return "-" if micros is None else f"{micros / 1_000_000:.3f}"


@cli.command("models")
@click.option("--available", is_flag=True, help="Only the models whose provider is configured.")
@one_line_errors
def models_command(available: bool) -> None:
    """List the model catalog: availability, limits and prices (US dollars per million tokens)."""
    from src.application.llm.list_models import ListModelsQuery
    from src.infrastructure.wiring.cli import build_list_models

    # Only the catalog: this command touches no database, cache or provider.
    list_models = build_list_models(settings_or_exit())
    page = asyncio.run(list_models(ListModelsQuery(available_only=available, limit=10_000)))
    if not page.items:
        click.echo("no available models" if available else "the model catalog is empty")
        return
    width = max(len("MODEL"), *(len(v.info.id) + 2 for v in page.items))
    click.echo(
        f"{'MODEL':<{width}}  AVAILABLE  {'CONTEXT':>9}  {'MAX OUT':>7}  {'$IN/M':>7}  {'$OUT/M':>7}  CAPABILITIES"
    )
    for view in page.items:
        info = view.info
        name = f"{info.id} *" if view.is_default else info.id
        click.echo(
            f"{name:<{width}}  {'yes' if view.available else 'no':<9}  {info.context_window:>9}  "
            f"{info.max_output_tokens:>7}  {_price(info.pricing.input_per_million):>7}  "
            f"{_price(info.pricing.output_per_million):>7}  {', '.join(sorted(info.capabilities))}"
        )
    click.echo(f"* default model ({page.default_model}); a model is available when its provider is configured")


@cli.group()
def providers() -> None:
    """Model providers (OpenAI, Gemini, Groq, offline)."""


@providers.command("check")
@click.option("--provider", "only", multiple=True, help="Only this provider (repeatable).")
@click.option("--timeout", type=click.FloatRange(min=1), default=30, show_default=True, help="Seconds per provider.")
@one_line_errors
def providers_check(only: tuple[str, ...], timeout: float) -> None:
    """Make a tiny call to each configured provider; exit 1 when one fails."""
    from src.application.llm.check_providers import CheckProvidersCommand

    command = CheckProvidersCommand(providers=tuple(p.lower() for p in only), timeout_seconds=timeout)
    checks = _with_container(lambda container: container.use_cases.check_providers(command))
    model_width = max(len("MODEL"), *(len(c.model or "-") for c in checks))
    click.echo(f"{'PROVIDER':<9}  {'MODEL':<{model_width}}  {'STATUS':<22}  {'LATENCY':>8}  DETAIL")
    for check in checks:
        status = "ok" if check.ok else (check.error_code or "failed")
        latency = f"{check.latency_ms} ms"
        model = check.model or "-"
        click.echo(f"{check.provider:<9}  {model:<{model_width}}  {status:<22}  {latency:>8}  {check.detail or ''}")
    failed = [c.provider for c in checks if not c.ok]
    if failed:
        fail(f"{len(failed)} of {len(checks)} provider(s) failed: {', '.join(failed)}")


# --- knowledge: paragraphs, dictionary, articles (src/interfaces/cli/knowledge.py) ------------

for _command in KNOWLEDGE_COMMANDS:
    cli.add_command(_command)

# --- chat and usage: conversations export, users set-budget (src/interfaces/cli/chat.py) ------

for _command in CHAT_COMMANDS:
    cli.add_command(_command)
for _command in USERS_COMMANDS:
    users.add_command(_command)
for _command in USAGE_COMMANDS:  # parley usage (src/interfaces/cli/usage.py)
    cli.add_command(_command)

# --- notifications: broadcast, mail list|show (src/interfaces/cli/notifications.py) ----------

for _command in NOTIFICATION_COMMANDS:
    cli.add_command(_command)

# --- parley chat: the terminal chat (src/interfaces/cli/terminal_chat.py) -------------------

cli.add_command(chat_command)
for _command in AI_COMMANDS:
    cli.add_command(_command)
cli.add_command(importlib.import_module("src.interfaces.cli.status").status_command)  # parley status


def main() -> None:
    cli(prog_name="parley")


if __name__ == "__main__":
    main()
