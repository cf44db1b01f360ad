"""``parley notifications broadcast`` and ``parley mail list|show``: the notifications commands.

They run the same use cases as the API, as the operator (``Principal.system()``). A broadcast is recorded
like the API's: a running API or worker fans it out (it waits in the outbox until one does).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import click

from src.interfaces.cli.runtime import fail, one_line_errors, run_in_container


@click.group()
def notifications() -> None:
    """Notifications: announce something to users."""


@notifications.command("broadcast")
@click.option("--title", required=True, help="The announcement's title (1-200 characters).")
@click.option("--body", required=True, help="The announcement's text.")
@click.option(
    "--audience",
    default="all",
    show_default=True,
    help="all, role:<admin|moderator|creator|viewer> or tier:<free|pro>.",
)
@one_line_errors
def broadcast(title: str, body: str, audience: str) -> None:
    """Announce TITLE and BODY to the audience: an in-app notification each (and e-mail where chosen)."""
    from src.application.notifications.publish_announcement import PublishAnnouncementCommand
    from src.domain.identity.model import Principal

    async def work(container: Any) -> Any:
        return await container.notifications.publish_announcement(
            Principal.system(), PublishAnnouncementCommand(title, body, audience)
        )

    view = run_in_container(work)
    click.echo(f"announcement {view.id} to {view.audience}: queued (a running API or worker fans it out)")


@click.group()
def mail() -> None:
    """E-mail that went out (the console mailer's record, and SMTP's)."""


@mail.command("list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@one_line_errors
def mail_list(limit: int, as_json: bool) -> None:
    """The most recent e-mails, newest first."""
    from src.application.notifications.list_sent_emails import ListSentEmailsQuery

    async def work(container: Any) -> Any:
        return await container.notifications.list_sent_emails(ListSentEmailsQuery(limit))

    for email in run_in_container(work):
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "id": str(email.id),
                        "to": email.to,
                        "category": email.category,
                        "subject": email.subject,
                        "transport": email.transport,
                        "created_at": email.created_at.isoformat(),
                    }
                )
            )
        else:
            click.echo(
                f"{email.id}  {email.created_at:%Y-%m-%d %H:%M}  {email.category:<13}  {email.to}  {email.subject}"
            )


@mail.command("show")
@click.argument("email_id", type=click.UUID)
@click.option("--html", "show_html", is_flag=True, help="Print the HTML body instead of the plain text.")
@one_line_errors
def mail_show(email_id: uuid.UUID, show_html: bool) -> None:
    """One e-mail: its headers and body."""
    from src.application.notifications.get_sent_email import GetSentEmailQuery

    async def work(container: Any) -> Any:
        return await container.notifications.get_sent_email(GetSentEmailQuery(email_id))

    email = run_in_container(work)
    if email is None:
        fail(f"no e-mail {email_id}")
    click.echo(f"To: {email.to}")
    click.echo(f"Subject: {email.subject}")
    click.echo(f"Date: {email.created_at.isoformat()}")
    click.echo(f"Transport: {email.transport}")
    for name, value in email.headers.items():
        click.echo(f"{name}: {value}")
    click.echo("")
    click.echo(email.html if show_html else email.text)


COMMANDS = [notifications, mail]
