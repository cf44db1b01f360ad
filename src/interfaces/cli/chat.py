"""``parley conversations export`` and ``parley users set-budget``: the chat and usage commands.

They run the same use cases as the API, through the same container, as the operator
(``Principal.system()``). ``main.py`` adds them to the ``parley`` and ``parley users`` groups.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
#: What ``set-budget`` takes to give a user their tier's budget again.
TIER_BUDGET = ("tier", "default", "none")


def one_line_errors(func: F) -> F:
    """``main.one_line_errors``, applied when the command runs (``main`` imports this module)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from src.interfaces.cli.main import one_line_errors as base

        return base(func)(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _run(work: Callable[[Any], Any]) -> Any:
    """Run ``work(container)`` in a started container; a domain error is one line and its exit code."""
    from src.interfaces.cli.main import _identity

    return _identity(work)


@click.group()
def conversations() -> None:
    """Conversations: export them."""


@conversations.command("export")
@click.argument("conversation_id", type=click.UUID)
@click.option("--format", "format_", type=click.Choice(["json", "markdown"]), default="markdown", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file, not stdout.")
@click.option(
    "--user",
    "who",
    default=None,
    help="Export as this user (email or id): only a conversation of theirs is found. Without it, any.",
)
@one_line_errors
def conversations_export(conversation_id: uuid.UUID, format_: str, output: Path | None, who: str | None) -> None:
    """Print (or write) conversation CONVERSATION_ID and all its messages, as Markdown or JSON.

    The operator reads any conversation; with --user, the export is made as that user (the owner),
    and someone else's conversation is not found.
    """
    from src.domain.identity.model import Principal
    from src.interfaces.cli.main import _act_as

    async def work(container: Any) -> Any:
        principal = Principal.system() if who is None else await _act_as(container, who)
        return await container.use_cases.export_conversation(principal, conversation_id, format_)

    exported = _run(work)
    if output is None:
        click.echo(exported.content)
        return
    output.write_text(exported.content + "\n", encoding="utf-8")
    click.echo(f"wrote {len(exported.export.messages)} messages to {output}", err=True)


@click.command("set-budget")
@click.argument("user")
@click.argument("amount")
@one_line_errors
def users_set_budget(user: str, amount: str) -> None:
    """Give USER a monthly budget of AMOUNT US dollars (e.g. 12.50; 0 allows no AI requests), whatever
    their tier; AMOUNT `tier` gives them their tier's budget again."""
    from src.domain.identity.model import Principal
    from src.domain.usage.model import micros_to_dollars
    from src.interfaces.cli.main import _find_user

    monthly = None if amount.strip().lower() in TIER_BUDGET else amount

    async def work(container: Any) -> Any:
        found = await _find_user(container, user)
        view = await container.use_cases.set_user_budget(Principal.system(), found.id, monthly)
        return found, view

    found, view = _run(work)
    status = view.status
    source = "own budget" if status.custom else f"{found.tier.value} tier budget"
    click.echo(
        f"{found.email}: ${micros_to_dollars(status.budget_micros)} a month ({source}), "
        f"${micros_to_dollars(status.spent_micros)} spent this month"
    )


CHAT_COMMANDS = [conversations]
USERS_COMMANDS = [users_set_budget]
