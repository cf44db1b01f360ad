"""``parley users``: accounts. Create, list, change role or tier, (de)activate, reset passwords, budgets.

Each command builds only what its use case needs (``run_in_container``): listing users opens the
database alone; changing one also reaches the access-state cache (and, with Redis, every instance).
"""

from __future__ import annotations

from typing import Any

import click

from src.interfaces.cli.runtime import (
    find_user,
    one_line_errors,
    read_password,
    run_in_container,
)

ROLES = ("viewer", "creator", "moderator", "admin")
TIERS = ("free", "pro")
#: What ``set-budget`` takes to give a user their tier's budget again.
TIER_BUDGET = ("tier", "default", "none")


def _user_line(user: Any) -> str:
    status = "active" if user.is_active else "deactivated"
    return f"{user.email} ({user.id}): {user.role.value}, {user.tier.value}, {status}"


@click.group()
def users() -> None:
    """Accounts: create, list, change role or tier, deactivate, reset passwords.

    USER is an email address or a user id.
    """


@users.command("create")
@click.option("--email", required=True, help="The new user's email (their sign-in name).")
@click.option("--display-name", default=None, help="Shown to others (default: the part of the email before @).")
@click.option("--role", type=click.Choice(ROLES), default=None, help="Default: DEFAULT_ROLE (creator).")
@click.option("--tier", type=click.Choice(TIERS), default="free", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin instead of prompting.")
@one_line_errors
def users_create(email: str, display_name: str | None, role: str | None, tier: str, password_stdin: bool) -> None:
    """Create an account (the first admin: --role admin)."""
    from src.application.identity.views import RegisterUserCommand
    from src.domain.identity.model import Role, Tier

    password = read_password(password_stdin)
    command = RegisterUserCommand(
        email=email,
        password=password,
        display_name=display_name or email.strip().partition("@")[0] or email,
        role=Role(role) if role else None,
        tier=Tier(tier),
    )
    user = run_in_container(lambda container: container.use_cases.identity.register_user(command))
    click.echo(f"created {_user_line(user)}")


@users.command("list")
@click.option("--q", "query", default=None, help="Part of an email or display name.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@one_line_errors
def users_list(query: str | None, limit: int, offset: int) -> None:
    """List users, newest first, as a table."""
    from src.application.identity.list_users import ListUsersQuery
    from src.domain.identity.model import Principal

    page = run_in_container(
        lambda container: container.use_cases.identity.list_users(
            Principal.system(), ListUsersQuery(query, limit, offset)
        )
    )
    if not page.items:
        click.echo("no users" + (f" matching {query!r}" if query else ""))
        return
    email_width = max(len("EMAIL"), *(len(u.email) for u in page.items))
    name_width = min(30, max(len("NAME"), *(len(u.display_name) for u in page.items)))
    click.echo(
        f"{'ID':<36}  {'EMAIL':<{email_width}}  {'NAME':<{name_width}}  ROLE       TIER  STATUS       CREATED (UTC)"
    )
    for u in page.items:
        status = "active" if u.is_active else "deactivated"
        created = u.created_at.strftime("%Y-%m-%d %H:%M")
        name = u.display_name[:name_width]
        click.echo(
            f"{u.id!s:<36}  {u.email:<{email_width}}  {name:<{name_width}}  {u.role.value:<9}  {u.tier.value:<4}  "
            f"{status:<11}  {created}"
        )
    click.echo(f"{page.offset + 1}-{page.offset + len(page.items)} of {page.total} users")


def _update_user(who: str, **changes: Any) -> Any:
    from src.application.identity.update_user import UpdateUserCommand
    from src.domain.identity.model import Principal

    async def work(container: Any) -> Any:
        user = await find_user(container, who)
        return await container.use_cases.identity.update_user(Principal.system(), UpdateUserCommand(user.id, **changes))

    return run_in_container(work)


@users.command("set-role")
@click.argument("user")
@click.argument("role", type=click.Choice(ROLES))
@one_line_errors
def users_set_role(user: str, role: str) -> None:
    """Give USER a role: viewer, creator, moderator or admin (their access tokens end: they sign in again)."""
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
    from src.application.identity.reset_password import ResetPasswordCommand
    from src.domain.identity.model import Principal

    password = read_password(password_stdin)

    async def work(container: Any) -> Any:
        found = await find_user(container, user)
        await container.use_cases.identity.reset_password(Principal.system(), ResetPasswordCommand(found.id, password))
        return found

    click.echo(f"password reset for {run_in_container(work).email}")


@users.command("set-budget")
@click.argument("user")
@click.argument("amount")
@one_line_errors
def users_set_budget(user: str, amount: str) -> None:
    """Give USER a monthly budget of AMOUNT US dollars (e.g. 12.50; 0 allows no AI requests), whatever
    their tier; AMOUNT `tier` gives them their tier's budget again."""
    from src.application.usage.set_user_budget import SetUserBudgetCommand
    from src.domain.identity.model import Principal
    from src.domain.usage.model import micros_to_dollars

    monthly = None if amount.strip().lower() in TIER_BUDGET else amount

    async def work(container: Any) -> Any:
        found = await find_user(container, user)
        view = await container.use_cases.usage.set_user_budget(
            Principal.system(), SetUserBudgetCommand(found.id, monthly)
        )
        return found, view

    found, view = run_in_container(work)
    status = view.status
    source = "own budget" if status.custom else f"{found.tier.value} tier budget"
    click.echo(
        f"{found.email}: ${micros_to_dollars(status.budget_micros)} a month ({source}), "
        f"${micros_to_dollars(status.spent_micros)} spent this month"
    )


COMMANDS = [users]
