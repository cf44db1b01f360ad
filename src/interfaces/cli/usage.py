"""``parley usage USER``: a user's tokens and cost by day, model or API key, and their budget.

The same use case as ``GET /api/v1/usage``, run as that user (``runtime.act_as``).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import click

from src.interfaces.cli.runtime import act_as, one_line_errors, run_in_container

_COLUMNS = ("requests", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")


@click.command("usage")
@click.argument("user")
@click.option(
    "--by",
    "group_by",
    type=click.Choice(["day", "model", "api_key"]),
    default="day",
    show_default=True,
    help="Group by UTC day, by model, or by the API key the calls were made with (no_api_key: the others).",
)
@click.option("--from", "start", type=click.DateTime(formats=["%Y-%m-%d"]), help="First day (default: this month's).")
@click.option("--to", "end", type=click.DateTime(formats=["%Y-%m-%d"]), help="Last day (default: today).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@one_line_errors
def usage_command(user: str, group_by: str, start: datetime | None, end: datetime | None, as_json: bool) -> None:
    """Print USER's (email or id) model calls: requests, tokens and cost, and this month's budget."""
    from src.application.usage.get_usage import GetUsageCommand
    from src.domain.usage.model import micros_to_dollars

    async def work(container: Any) -> Any:
        principal = await act_as(container, user)
        return await container.use_cases.get_usage(
            GetUsageCommand(principal, start=_day(start), end=_day(end), group_by=group_by)
        )

    report = run_in_container(work)
    rows = [*report.items, report.totals]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "from": report.start.isoformat(),
                    "to": report.end.isoformat(),
                    "group_by": report.group_by,
                    "items": [_row(b) for b in report.items],
                    "totals": _row(report.totals),
                    "budget_usd": micros_to_dollars(report.budget.budget_micros),
                    "spent_this_month_usd": micros_to_dollars(report.budget.spent_micros),
                },
                indent=2,
            )
        )
        return
    width = max([len(group_by.upper()), *(len(b.key) for b in rows)])
    click.echo(f"{group_by.upper():<{width}}  REQUESTS  INPUT  OUTPUT  CACHED  REASONING  COST_USD")
    for bucket in rows:
        click.echo(
            f"{bucket.key:<{width}}  {bucket.requests:>8}  {bucket.input_tokens:>5}  {bucket.output_tokens:>6}  "
            f"{bucket.cached_tokens:>6}  {bucket.reasoning_tokens:>9}  {micros_to_dollars(bucket.cost_micros)}"
        )
    click.echo(
        f"budget: ${micros_to_dollars(report.budget.spent_micros)} spent of "
        f"${micros_to_dollars(report.budget.budget_micros)} this month"
    )


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


def _row(bucket: Any) -> dict[str, Any]:
    return {"key": bucket.key, **{c: getattr(bucket, c) for c in _COLUMNS}, "cost_micros": bucket.cost_micros}


COMMANDS = [usage_command]
