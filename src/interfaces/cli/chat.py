"""``parley conversations export``: a conversation as Markdown or JSON.

It runs the same use case as the API, as the operator (``Principal.system()``) or as a user.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import click

from src.interfaces.cli.runtime import act_as, one_line_errors, run_in_container


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
    from src.application.chat.export_conversation import ExportConversationQuery
    from src.domain.identity.model import Principal

    async def work(container: Any) -> Any:
        principal = Principal.system() if who is None else await act_as(container, who)
        return await container.use_cases.chat.export_conversation(
            principal, ExportConversationQuery(conversation_id, format_)
        )

    exported = run_in_container(work)
    if output is None:
        click.echo(exported.content)
        return
    output.write_text(exported.content + "\n", encoding="utf-8")
    click.echo(f"wrote {len(exported.export.messages)} messages to {output}", err=True)


COMMANDS = [conversations]
