"""What every ``parley`` command module shares: settings, one-line errors, exit codes, running use
cases in a container, and naming a user.

Errors print one line to stderr and exit non-zero: 2 for bad configuration or usage, 1 for anything
else. This module imports only click and the settings; a container is built when a command runs,
and only the parts of it the command uses (``CliContainer``, src/infrastructure/wiring/cli.py).
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from src.infrastructure.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from src.application.identity.views import UserView
    from src.domain.identity.model import Principal

F = TypeVar("F", bound=Callable[..., Any])

EXIT_FAILURE = 1
EXIT_USAGE = 2
#: The CLI's table of domain errors: bad input is a usage error (2), anything else (unknown user,
#: conflict) a failure (1).
EXIT_BY_ERROR_KIND: dict[str, int] = {"invalid": EXIT_USAGE}


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def settings_or_exit() -> Settings:
    """Load and validate the settings, and route every log line to stderr through structlog (set
    up when the first line is logged: most commands log nothing)."""
    from src.infrastructure.logging import configure_logging_on_first_line

    try:
        settings = load_settings()
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_USAGE)
    configure_logging_on_first_line(settings)
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


def run_reporting_domain_errors(work: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``work()`` to completion; a domain error is one line and its exit code."""
    from src.domain.shared.errors import DomainError

    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except DomainError as exc:
        fail(exc.detail, EXIT_BY_ERROR_KIND.get(exc.kind, EXIT_FAILURE))


def run_in_container(
    work: Callable[[Any], Awaitable[Any]], *, full: bool = False, settings: Settings | None = None
) -> Any:
    """Run ``work(container)`` in a started container and close it; a domain error is one line.

    The container is the CLI's lazy one (only what ``work`` touches is built), or with ``full`` the
    whole application's (``build_container``), for commands that need every context wired together.
    """
    settings = settings or settings_or_exit()
    container: Any
    if full:
        from src.infrastructure.container import build_container

        container = build_container(settings, role="cli")
    else:
        from src.infrastructure.wiring.cli import CliContainer

        container = CliContainer(settings)

    async def run() -> Any:
        await container.startup()
        try:
            return await work(container)
        finally:
            await container.shutdown()

    return run_reporting_domain_errors(run)


def read_password(from_stdin: bool) -> str:
    """One line from stdin (``--password-stdin``, for scripts), or a prompt without echo, asked twice."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            fail("--password-stdin: nothing was read from stdin", EXIT_USAGE)
        return line
    prompted: str = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return prompted


async def find_user(container: Any, who: str) -> UserView:
    """The user named by an id or an email (an unknown one is one line and exit 1)."""
    import uuid

    from src.application.identity.get_user import GetUserQuery
    from src.application.identity.list_users import ListUsersQuery
    from src.domain.identity.errors import UserNotFound
    from src.domain.identity.model import Principal

    system = Principal.system()
    try:
        user_id = uuid.UUID(who)
    except ValueError:
        user_id = None
    if user_id is not None:
        try:
            found: UserView = await container.use_cases.identity.get_user(system, GetUserQuery(user_id))
        except UserNotFound:
            raise UserNotFound(f"no user with id {who}") from None
        return found
    email = who.strip().lower()
    offset = 0
    while True:  # the search matches parts of emails: walk its pages for the exact one
        page = await container.use_cases.identity.list_users(system, ListUsersQuery(email, 100, offset))
        for user in page.items:
            if user.email == email:
                return user  # type: ignore[no-any-return]
        offset += len(page.items)
        if not page.items or offset >= page.total:
            raise UserNotFound(f"no user with email or id {who!r}")


async def act_as(container: Any, who: str) -> Principal:
    """A ``Principal`` for the user named by ``who``, to run use cases as them: their permissions,
    limits, budget and only their own conversations (``via`` ``cli``, not ``system``, which is the
    operator reading anyone's). An unknown or deactivated user is one line and exit 1."""
    from src.domain.identity.errors import AccountInactive
    from src.domain.identity.model import Principal, permissions_of

    user = await find_user(container, who)
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
