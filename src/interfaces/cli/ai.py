"""``parley ai summarize|classify|moderate|generate``: the AI tools from a terminal or a script.

The text comes from a file (``--file``) or standard input; the tool runs as ``--user`` (their limits,
budget, usage and cache). The answer is printed as text, or with ``--json`` as the same JSON body the
API returns (``usage``, ``cost_micros``, ``cached`` included).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import click

from src.interfaces.cli.runtime import EXIT_USAGE, act_as, fail, run_in_container

USER = click.option("--user", "who", required=True, help="Run as this user: an email address or a user id.")
FILE = click.option(
    "--file",
    "source",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="Read the text here (default: stdin).",
)
MODEL = click.option("--model", default=None, help="provider/model (default: the default model).")
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print the API's JSON body.")


def _read(source: Any) -> str:
    text = (source or sys.stdin).read()
    if not text.strip():
        fail("no text: give --file or pipe the text to stdin", EXIT_USAGE)
    return str(text)


def _run_tool(who: str, call: Callable[[Any, Any], Any]) -> Any:
    """``call(container, principal)`` as the user named by ``who``, in a started container."""

    async def work(container: Any) -> Any:
        return await call(container, await act_as(container, who))

    return run_in_container(work, full=True)


def _print(outcome: Any, as_json: bool, text: str) -> None:
    if as_json:
        body = {
            **asdict(outcome.result),
            "model": outcome.model,
            "usage": {"input_tokens": outcome.usage.input_tokens, "output_tokens": outcome.usage.output_tokens},
            "cost_micros": outcome.cost_micros,
            "cached": outcome.cached,
        }
        if outcome.safety is not None:
            verdict = outcome.safety
            body["safety"] = {
                "prompt_injection": {"flagged": True, "score": verdict.score, "reasons": list(verdict.reasons)}
            }
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        click.echo(text)


@click.group()
def ai() -> None:
    """AI tools: summarize, classify, moderate, generate (charged to the user like chat)."""


@ai.command("summarize")
@USER
@FILE
@MODEL
@AS_JSON
@click.option("--max-words", type=click.IntRange(10, 1000), default=120, show_default=True)
@click.option("--bullets", is_flag=True, help="A bulleted list instead of a paragraph.")
def summarize(who: str, source: Any, model: str | None, as_json: bool, max_words: int, bullets: bool) -> None:
    """Summarize the text."""
    from src.application.ai.summarize import SummarizeCommand

    command = SummarizeCommand(_read(source), max_words, "bullets" if bullets else "paragraph", model)
    outcome = _run_tool(who, lambda c, p: c.ai.summarize(p, command))
    _print(outcome, as_json, outcome.result.summary)


@ai.command("classify")
@USER
@FILE
@MODEL
@AS_JSON
@click.option("--label", "labels", multiple=True, help="A category of your own (repeat it); default ones otherwise.")
def classify(who: str, source: Any, model: str | None, as_json: bool, labels: tuple[str, ...]) -> None:
    """Classify the text: a category and the sentiment."""
    from src.application.ai.classify import ClassifyCommand

    command = ClassifyCommand(_read(source), labels, model)
    outcome = _run_tool(who, lambda c, p: c.ai.classify(p, command))
    result = outcome.result
    _print(outcome, as_json, f"{result.category} ({result.confidence:.2f}), {result.sentiment}")


@ai.command("moderate")
@USER
@FILE
@MODEL
@AS_JSON
def moderate(who: str, source: Any, model: str | None, as_json: bool) -> None:
    """Moderate the text; exit 3 when it is flagged (for scripts)."""
    from src.application.ai.moderate import ModerateCommand

    command = ModerateCommand(_read(source), model)
    outcome = _run_tool(who, lambda c, p: c.ai.moderate(p, command))
    result = outcome.result
    flagged = [name for name, hit in result.categories.items() if hit]
    _print(outcome, as_json, f"flagged: {', '.join(flagged)} ({result.source})" if flagged else f"ok ({result.source})")
    if result.flagged:
        sys.exit(3)


@ai.command("generate")
@USER
@MODEL
@AS_JSON
@click.argument("template")
@click.option("--param", "params", multiple=True, help="NAME=VALUE (repeat it); --param NAME=@- reads stdin.")
def generate(who: str, model: str | None, as_json: bool, template: str, params: tuple[str, ...]) -> None:
    """Write from TEMPLATE (email, blog_post, social_post, product_description) with its parameters."""
    from src.application.ai.generate import GenerateCommand

    values: dict[str, str] = {}
    for param in params:
        name, sep, value = param.partition("=")
        if not sep or not name:
            fail(f"--param {param!r}: write NAME=VALUE", EXIT_USAGE)
        values[name] = _read(None) if value == "@-" else value
    command = GenerateCommand(template, values, model)
    outcome = _run_tool(who, lambda c, p: c.ai.generate(p, command))
    _print(outcome, as_json, outcome.result.text)


COMMANDS = [ai]
