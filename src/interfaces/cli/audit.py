"""``parley audit tail [-f] [--action ...]``: the audit log at the terminal.

Runs ``ListAuditEvents`` as the operator (``Principal.system()``) through the same container as the
API. Imports stay inside the command: ``parley --help`` and other commands never load the container.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import click

from src.interfaces.cli.runtime import EXIT_USAGE, fail, one_line_errors, run_in_container

#: Followers re-read this far back each poll: an event that committed a moment after a newer one
#: (two instances, one slow transaction) still shows, once.
FOLLOW_LOOKBACK_SECONDS = 10.0
MAX_REMEMBERED = 10_000


@click.group()
def audit() -> None:
    """The audit log: who changed what, when and from where."""


@audit.command("tail")
@click.option(
    "-n", "--lines", "limit", default=20, show_default=True, type=click.IntRange(1, 200), help="Events shown."
)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events as they are recorded (Ctrl-C stops).")
@click.option("--action", "actions", multiple=True, help="Only this action (repeatable): user.role_changed, ...")
@click.option(
    "--interval", default=2.0, show_default=True, type=click.FloatRange(0.2, 60), help="Seconds between polls."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@one_line_errors
def audit_tail(limit: int, follow: bool, actions: tuple[str, ...], interval: float, as_json: bool) -> None:
    """Print the latest audit events, oldest first; with -f, go on printing new ones."""
    import asyncio
    from collections import deque
    from datetime import timedelta

    from src.domain.admin.audit import AuditEvent, AuditQuery, first_id_at, parse_action
    from src.domain.identity.model import Principal
    from src.domain.shared.errors import InvalidInput

    try:
        wanted = tuple(parse_action(a) for a in actions)
    except InvalidInput as exc:
        fail(exc.detail, EXIT_USAGE)
    principal = Principal.system()

    def show(event: AuditEvent) -> None:
        if as_json:
            click.echo(json.dumps(_as_json(event)), nl=True)
        else:
            actor = str(event.actor_id) if event.actor_id else str(event.data.get("via", "-"))
            details = " ".join(f"{k}={v}" for k, v in event.data.items() if k != "via")
            target = f"{event.target_type.value}:{event.target_id}" if event.target_id else event.target_type.value
            click.echo(
                f"{event.at:%Y-%m-%d %H:%M:%S}  {event.action.value:<26}  {target}  by {actor}"
                f"{' from ' + event.actor_ip if event.actor_ip else ''}{'  ' + details if details else ''}"
            )

    async def work(container: Any) -> None:
        list_events = container.audit_moderation.list_audit_events
        page = await list_events(principal, AuditQuery(actions=wanted, limit=limit))
        latest = list(reversed(page.items))
        for event in latest:
            show(event)
        if not follow:
            return
        seen: deque[Any] = deque((e.id for e in latest), maxlen=MAX_REMEMBERED)
        remembered = set(seen)
        since = latest[-1].at if latest else container.clock.now()
        while True:
            await asyncio.sleep(interval)
            cursor = first_id_at(since - timedelta(seconds=FOLLOW_LOOKBACK_SECONDS))
            while True:
                batch = await list_events(principal, AuditQuery(actions=wanted, after=cursor, limit=200))
                for event in batch.items:
                    if event.id in remembered:
                        continue
                    show(event)
                    if len(seen) == seen.maxlen:
                        remembered.discard(seen[0])
                    seen.append(event.id)
                    remembered.add(event.id)
                    since = max(since, event.at)
                if len(batch.items) < 200:
                    break
                cursor = batch.items[-1].id

    # Ctrl-C ends a follow: that is how it stops, not an error.
    with contextlib.suppress(KeyboardInterrupt):
        run_in_container(work)


def _as_json(event: Any) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "at": event.at.isoformat(),
        "actor_id": str(event.actor_id) if event.actor_id else None,
        "actor_ip": event.actor_ip,
        "action": event.action.value,
        "target_type": event.target_type.value,
        "target_id": event.target_id,
        "data": dict(event.data),
    }


COMMANDS = [audit]
