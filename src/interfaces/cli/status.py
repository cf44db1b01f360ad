"""``parley status``: the system status of ``GET /api/v1/admin/system``, as a few readable lines.

Run as the operator (``Principal.system()``) with the full container: it asks the database, Redis,
the job queue, and reads the instances' heartbeats. Exit 1 when the database, or a configured Redis,
is down, so that scripts can tell.
"""

from __future__ import annotations

import json
from typing import Any

import click

from src.interfaces.cli.runtime import fail, one_line_errors, run_in_container


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the same JSON as GET /api/v1/admin/system.")
@one_line_errors
def status_command(as_json: bool) -> None:
    """Instances and their uptime, database and Redis latency, jobs, breakers, error rate."""
    from src.domain.identity.model import Principal

    async def work(container: Any) -> Any:
        return await container.admin.system_status(Principal.system())

    status = run_in_container(work, full=True)  # the probes of every part: the whole application
    if as_json:
        click.echo(json.dumps(_as_json(status), indent=2))
    else:
        for line in _lines(status):
            click.echo(line)
    down = [d.name for d in (status.database, status.redis) if d.status == "down"]
    if down:
        fail(f"{' and '.join(down)} down")


def _lines(status: Any) -> list[str]:
    where = "shared through Redis" if status.instances_shared else "this process only: no Redis"
    lines = [f"parley {status.version}, checked {status.checked_at:%Y-%m-%d %H:%M:%S} UTC", ""]
    lines.append(f"instances: {len(status.instances)} ({where})")
    rows = [["ID", "ROLE", "HOST", "PID", "UPTIME", "SOCKETS", "STREAMING", "REQUESTS", "5XX"]]
    for i in status.instances:
        r = i.report
        rows.append(
            [
                r.instance_id + (" *" if i.current else ""),
                r.role,
                r.host,
                str(r.pid),
                _duration(i.uptime_seconds),
                str(r.open_websockets),
                str(r.streaming_replies),
                str(r.recent_requests),
                str(r.recent_server_errors),
            ]
        )
    widths = [max(len(row[n]) for row in rows) for n in range(len(rows[0]))]
    lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.append("")
    for dependency in (status.database, status.redis):
        latency = f"{dependency.latency_ms:.2f} ms" if dependency.latency_ms is not None else ""
        error = f"  {dependency.error}" if dependency.error else ""
        lines.append(f"{dependency.name:<9} {dependency.status:<15} {latency}{error}".rstrip())
    jobs = status.jobs
    queues = ", ".join(f"{name} {'?' if depth is None else depth} waiting" for name, depth in jobs.queue_depth.items())
    failed = "not tracked" if jobs.failed_jobs is None else str(jobs.failed_jobs)
    lines.append(f"jobs      queue {queues}; failed {failed}")
    lines.append(f"outbox    {jobs.outbox_backlog} waiting, the oldest for {jobs.outbox_oldest_age_seconds:g} s")
    breakers = ", ".join(f"{name} {state}" for name, state in status.breakers.items()) or "none yet"
    lines.append(f"breakers  {breakers}")
    lines.append(
        f"totals    {status.open_websockets} open WebSockets, {status.streaming_replies} replies streaming, "
        f"{status.recent_error_rate:.2%} server errors ({status.recent_server_errors} of "
        f"{status.recent_requests} requests, last 5 min)"
    )
    return lines


def _duration(seconds: float) -> str:
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s"


def _as_json(status: Any) -> dict[str, Any]:
    """The body of ``GET /api/v1/admin/system`` (same fields, same names)."""
    return {
        "version": status.version,
        "checked_at": status.checked_at.isoformat(),
        "instances_shared": status.instances_shared,
        "instances": [
            {
                "instance_id": i.report.instance_id,
                "role": i.report.role,
                "host": i.report.host,
                "pid": i.report.pid,
                "version": i.report.version,
                "started_at": i.report.started_at.isoformat(),
                "uptime_seconds": i.uptime_seconds,
                "last_heartbeat_at": i.report.seen_at.isoformat(),
                "current": i.current,
                "open_websockets": i.report.open_websockets,
                "streaming_replies": i.report.streaming_replies,
                "recent_requests": i.report.recent_requests,
                "recent_server_errors": i.report.recent_server_errors,
                "breakers": dict(i.report.breakers),
            }
            for i in status.instances
        ],
        **{
            d.name: {"status": d.status, "latency_ms": d.latency_ms, "error": d.error}
            for d in (status.database, status.redis)
        },
        "jobs": {
            "queue_depth": dict(status.jobs.queue_depth),
            "failed_jobs": status.jobs.failed_jobs,
            "outbox_backlog": status.jobs.outbox_backlog,
            "outbox_oldest_age_seconds": status.jobs.outbox_oldest_age_seconds,
        },
        "breakers": status.breakers,
        "open_websockets": status.open_websockets,
        "streaming_replies": status.streaming_replies,
        "recent_requests": status.recent_requests,
        "recent_server_errors": status.recent_server_errors,
        "recent_error_rate": status.recent_error_rate,
    }


COMMANDS = [status_command]
