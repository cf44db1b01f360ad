"""What ``parley chat`` writes: reply text, the dim notes under replies, errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click


class Screen:
    """What the chat writes: reply text (stdout, flushed as it comes), dim notes, errors (stderr)."""

    def __init__(self) -> None:
        self._mid_line = False

    def text(self, text: str) -> None:
        click.echo(text, nl=False)  # click flushes after each write
        self._mid_line = not text.endswith("\n")

    def end_line(self) -> None:
        if self._mid_line:
            click.echo()
            self._mid_line = False

    def note(self, line: str) -> None:
        """A dim line (plain when stdout is not a terminal: click drops the styles)."""
        self.end_line()
        click.secho(line, dim=True)

    def error(self, line: str) -> None:
        self.end_line()
        click.echo(f"error: {line}", err=True)


def describe_error(exc: Any) -> str:
    """One line for a ``DomainError``: its title and detail (the available models, when the budget
    renews...), without saying the same thing twice."""
    title, detail = str(exc.title), str(exc.detail)
    return detail if detail == title else f"{title}: {detail}"


def reply_note(message: Mapping[str, Any]) -> str:
    """The dim line under a reply: how it ended, the model, tokens, cost and time."""
    from src.domain.usage.model import micros_to_dollars

    parts = []
    finish = message.get("finish_reason")
    if finish == "cancelled":
        parts.append("stopped")
    elif finish == "length":
        parts.append("cut off at the model's output limit")
    parts.append(str(message.get("model") or "?"))
    usage = message.get("usage")
    if usage:
        about = "~" if usage.get("estimated") else ""
        parts.append(f"{about}{usage['input_tokens']} in / {about}{usage['output_tokens']} out tokens")
    parts.append(f"${micros_to_dollars(int(message.get('cost_micros') or 0))}")
    if message.get("latency_ms") is not None:
        parts.append(f"{message['latency_ms'] / 1000:.2f} s")
    return "[" + " · ".join(parts) + "]"


def sources_note(message: Mapping[str, Any]) -> str | None:
    """The passages of a grounded reply: those its text cites, or how many it was given."""
    citations = message.get("citations") or []
    if not citations:
        return None
    cited = [c for c in citations if c.get("cited")]
    if not cited:
        return f"[grounded in {len(citations)} passage(s) of your knowledge; none cited]"
    names = [f"[{c.get('n')}] {c.get('title') or c.get('kind')}" for c in cited]
    return "[sources: " + " · ".join(names) + "]"
