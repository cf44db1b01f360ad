"""``parley usage USER``: a user's tokens and cost by day, model or API key, and their budget (the same
use case as ``GET /api/v1/usage``, run as that user: ``runtime.act_as``); ``parley usage report``:
everyone's, as ``GET /api/v1/admin/analytics/usage`` reports it.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import click

from src.interfaces.cli.runtime import act_as, one_line_errors, run_in_container

_COLUMNS = ("requests", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")


class _UsageGroup(click.Group):
    """``parley usage report ...``, and ``parley usage USER ...`` as before (the ``user`` command)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["user", *args]
        return super().parse_args(ctx, args)


@click.group("usage", cls=_UsageGroup)
def usage_group() -> None:
    """Model calls, tokens and cost: one user's (`parley usage USER`) or everyone's (`parley usage report`)."""


@usage_group.command("user")
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
    from src.application.usage.get_usage import GetUsageQuery
    from src.domain.usage.model import micros_to_dollars

    async def work(container: Any) -> Any:
        principal = await act_as(container, user)
        return await container.use_cases.usage.get_usage(
            principal, GetUsageQuery(start=_day(start), end=_day(end), group_by=group_by)
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


_REPORT_COLUMNS = (
    "requests", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens", "cost_micros",
    "errors", "fallbacks", "latency_p50_ms", "latency_p95_ms", "ttft_p50_ms", "ttft_p95_ms",
)  # fmt: skip


def _since(value: str | None) -> date | None:
    """``YYYY-MM-DD``, or ``7d`` for the last seven days (today included)."""
    from datetime import UTC, timedelta

    if value is None:
        return None
    text = value.strip().lower()
    if text.endswith("d") and text[:-1].isdigit() and int(text[:-1]) >= 1:
        return datetime.now(UTC).date() - timedelta(days=int(text[:-1]) - 1)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("a day (YYYY-MM-DD) or a number of days (30d)", param_hint="--since") from None


@usage_group.command("report")
@click.option("--since", help="First day (YYYY-MM-DD) or a number of days back (7d); default: 30 days ago.")
@click.option("--until", "until", type=click.DateTime(formats=["%Y-%m-%d"]), help="Last day (default: today).")
@click.option(
    "--by",
    "group_by",
    type=click.Choice(["day", "user", "model", "provider", "api_key"]),
    default="day",
    show_default=True,
)
@click.option("--limit", type=click.IntRange(1, 500), default=100, show_default=True, help="Groups listed at most.")
@click.option(
    "--csv", "as_csv", is_flag=True, help="Print CSV (costs in micro-dollars and dollars) instead of a table."
)
@one_line_errors
def usage_report(since: str | None, until: datetime | None, group_by: str, limit: int, as_csv: bool) -> None:
    """Everyone's model calls by day, user, model, provider or API key: requests, tokens, cost, errors,
    fallbacks, and latency and time-to-first-token percentiles (ms), then the totals of the range."""
    from src.application.admin.get_usage_analytics import GetUsageAnalyticsQuery
    from src.domain.identity.model import Principal
    from src.domain.usage.model import micros_to_dollars
    from src.infrastructure.wiring.analytics import usage_analytics_on_database
    from src.interfaces.cli.runtime import run_reporting_domain_errors, settings_or_exit

    start = _since(since)
    settings = settings_or_exit()

    async def work() -> Any:
        async with usage_analytics_on_database(settings) as usage_analytics:
            query = GetUsageAnalyticsQuery(start=start, end=_day(until), group_by=group_by, limit=limit)
            return await usage_analytics(Principal.system(), query)

    report = run_reporting_domain_errors(work)
    rows = [*report.items, report.totals]
    if as_csv:
        _print_csv(group_by, rows)
        return
    click.echo(f"usage from {report.days.start} to {report.days.end}, by {group_by}")
    headers = [group_by.upper(), "REQUESTS", "INPUT", "OUTPUT", "CACHED", "COST_USD", "ERRORS", "FALLBACKS",
               "P50_MS", "P95_MS", "TTFT_P50", "TTFT_P95"]  # fmt: skip
    table = [headers] + [
        [
            stats.label or stats.key,
            str(stats.requests),
            str(stats.input_tokens),
            str(stats.output_tokens),
            str(stats.cached_tokens),
            micros_to_dollars(stats.cost_micros),
            str(stats.errors),
            str(stats.fallbacks),
            *(_ms(getattr(stats, c)) for c in ("latency_p50_ms", "latency_p95_ms", "ttft_p50_ms", "ttft_p95_ms")),
        ]
        for stats in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    for row in table:
        cells = [row[0].ljust(widths[0]), *(cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))]
        click.echo("  ".join(cells).rstrip())


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _print_csv(group_by: str, rows: list[Any]) -> None:
    import csv
    import sys

    from src.domain.usage.model import micros_to_dollars

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([group_by, "label", *_REPORT_COLUMNS, "cost_usd"])
    for stats in rows:
        values = ["" if getattr(stats, c) is None else getattr(stats, c) for c in _REPORT_COLUMNS]
        writer.writerow([stats.key, stats.label or "", *values, micros_to_dollars(stats.cost_micros)])


COMMANDS = [usage_group]
