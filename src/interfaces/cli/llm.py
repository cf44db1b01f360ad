"""``parley models`` and ``parley providers check``: the model catalog and the configured providers."""

from __future__ import annotations

import asyncio

import click

from src.interfaces.cli.runtime import fail, one_line_errors, run_in_container, settings_or_exit


def _price(micros: int | None) -> str:
    return "-" if micros is None else f"{micros / 1_000_000:.3f}"


@click.command("models")
@click.option("--available", is_flag=True, help="Only the models whose provider is configured.")
@one_line_errors
def models_command(available: bool) -> None:
    """List the model catalog: availability, limits and prices (US dollars per million tokens)."""
    from src.application.llm.list_models import ListModelsQuery
    from src.infrastructure.wiring.cli import build_list_models

    # Only the catalog: this command touches no database, cache or provider.
    list_models = build_list_models(settings_or_exit())
    page = asyncio.run(list_models(ListModelsQuery(available_only=available, limit=10_000)))
    if not page.items:
        click.echo("no available models" if available else "the model catalog is empty")
        return
    width = max(len("MODEL"), *(len(v.info.id) + 2 for v in page.items))
    click.echo(
        f"{'MODEL':<{width}}  AVAILABLE  {'CONTEXT':>9}  {'MAX OUT':>7}  {'$IN/M':>7}  {'$OUT/M':>7}  CAPABILITIES"
    )
    for view in page.items:
        info = view.info
        name = f"{info.id} *" if view.is_default else info.id
        click.echo(
            f"{name:<{width}}  {'yes' if view.available else 'no':<9}  {info.context_window:>9}  "
            f"{info.max_output_tokens:>7}  {_price(info.pricing.input_per_million):>7}  "
            f"{_price(info.pricing.output_per_million):>7}  {', '.join(sorted(info.capabilities))}"
        )
    click.echo(f"* default model ({page.default_model}); a model is available when its provider is configured")


@click.group()
def providers() -> None:
    """Model providers (OpenAI, Gemini, Groq, offline)."""


@providers.command("check")
@click.option("--provider", "only", multiple=True, help="Only this provider (repeatable).")
@click.option("--timeout", type=click.FloatRange(min=1), default=30, show_default=True, help="Seconds per provider.")
@one_line_errors
def providers_check(only: tuple[str, ...], timeout: float) -> None:
    """Make a tiny call to each configured provider; exit 1 when one fails."""
    from src.application.llm.check_providers import CheckProvidersCommand

    command = CheckProvidersCommand(providers=tuple(p.lower() for p in only), timeout_seconds=timeout)
    checks = run_in_container(lambda container: container.use_cases.llm.check_providers(command))
    model_width = max(len("MODEL"), *(len(c.model or "-") for c in checks))
    click.echo(f"{'PROVIDER':<9}  {'MODEL':<{model_width}}  {'STATUS':<22}  {'LATENCY':>8}  DETAIL")
    for check in checks:
        status = "ok" if check.ok else (check.error_code or "failed")
        latency = f"{check.latency_ms} ms"
        model = check.model or "-"
        click.echo(f"{check.provider:<9}  {model:<{model_width}}  {status:<22}  {latency:>8}  {check.detail or ''}")
    failed = [c.provider for c in checks if not c.ok]
    if failed:
        fail(f"{len(failed)} of {len(checks)} provider(s) failed: {', '.join(failed)}")


COMMANDS = [models_command, providers]
