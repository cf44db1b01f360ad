"""CPU time of each `parley` command, from start to exit (median of 5 runs, after one warm-up).

Each command runs as its own process, as an operator would run it, on a migrated SQLite database
(with one user and a Markdown file to import) in a temporary directory, without Redis: the figure is
the user + system CPU seconds of that process (``os.wait4``), which a busy machine inflates less
than wall time. The warm-up run writes the bytecode cache, as any installed copy has one.

    uv run python -m bench bench_cli
    PARLEY_BENCH_SOURCE=/path/to/another/checkout uv run python -m bench bench_cli   # compare

``PARLEY_BENCH_SOURCE`` runs the commands from another checkout's ``src`` with this environment's
dependencies. ``PARLEY_BENCH_BASELINE`` runs each command from that checkout too, interleaved with
this one's runs (a before/after measured side by side on the same load), adding
``<command>_baseline_cpu_s_median`` and ``<command>_ratio`` (this checkout / the baseline):

    PARLEY_BENCH_BASELINE=/path/to/main uv run python -m bench bench_cli
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

PARLEY = str(Path(sys.executable).with_name("parley"))
RUNS = 5
ADA = "ada@example.com"
PASSWORD = "a long and unusual passphrase\n"
UNKNOWN_ID = str(uuid.UUID(int=1))

#: name -> (arguments, standard input, the exit code expected)
COMMANDS: dict[str, tuple[list[str], str, int]] = {
    "help": (["--help"], "", 0),
    "version": (["version"], "", 0),
    "config_show": (["config", "show"], "", 0),
    "models": (["models"], "", 0),
    "providers_check": (["providers", "check"], "", 0),
    "db_current": (["db", "current"], "", 0),
    "users_list": (["users", "list"], "", 0),
    "users_set_tier": (["users", "set-tier", ADA, "pro"], "", 0),
    "users_set_budget": (["users", "set-budget", ADA, "5"], "", 0),
    "users_reset_password": (["users", "reset-password", ADA, "--password-stdin"], PASSWORD, 0),
    "usage": (["usage", ADA], "", 0),
    "conversations_export": (["conversations", "export", UNKNOWN_ID], "", 1),
    "paragraphs_search": (["paragraphs", "search", "word"], "", 0),
    "dictionary": (["dictionary"], "", 0),
    "articles_import": (["articles", "import", "articles", "--user", ADA], "", 0),
    "notifications_broadcast": (["notifications", "broadcast", "--title", "Hi", "--body", "All"], "", 0),
    "mail_list": (["mail", "list"], "", 0),
    "jobs_list": (["jobs", "list"], "", 0),
}


def cpu_seconds(args: list[str], stdin: str, code: int, env: dict[str, str], cwd: str) -> float:
    process = subprocess.Popen(
        [PARLEY, *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None
    process.stdin.write(stdin.encode())
    process.stdin.close()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != code:
        raise RuntimeError(f"parley {' '.join(args)} exited {process.returncode}, not {code}")
    return usage.ru_utime + usage.ru_stime


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "articles").mkdir()
        (Path(directory) / "articles" / "note.md").write_text("# A note\n\nSome words.\n")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": directory,
            "APP_ENV": "development",
            "LOG_FORMAT": "json",
            "PARLEY_VAR_DIR": directory,
            "DATABASE_URL": f"sqlite+aiosqlite:///{directory}/parley.db",
            "SECRET_KEY": "bench-secret-key-bench-secret-key-0123456789",
            # Bytecode goes here, not into the source tree (the warm-up run writes it).
            "PYTHONPYCACHEPREFIX": f"{directory}/pycache",
        }
        if source := os.environ.get("PARLEY_BENCH_SOURCE"):
            env["PYTHONPATH"] = source
        subprocess.run([PARLEY, "db", "upgrade"], env=env, cwd=directory, check=True, capture_output=True)
        subprocess.run(
            [PARLEY, "users", "create", "--email", ADA, "--password-stdin"],
            env=env,
            cwd=directory,
            input=PASSWORD,
            text=True,
            check=True,
            capture_output=True,
        )
        baseline = os.environ.get("PARLEY_BENCH_BASELINE", "")
        # The baseline's bytecode apart from this checkout's (both warm after their warm-up run).
        baseline_env = {**env, "PYTHONPATH": baseline, "PYTHONPYCACHEPREFIX": f"{directory}/pycache-baseline"}
        figures: dict[str, float] = {}
        for name, (args, stdin, code) in COMMANDS.items():
            cpu_seconds(args, stdin, code, env, directory)  # warm-up: the bytecode cache
            if baseline:
                cpu_seconds(args, stdin, code, baseline_env, directory)
            runs: list[float] = []
            baseline_runs: list[float] = []
            for _ in range(RUNS):
                runs.append(cpu_seconds(args, stdin, code, env, directory))
                if baseline:
                    baseline_runs.append(cpu_seconds(args, stdin, code, baseline_env, directory))
            figures[f"{name}_cpu_s_median"] = round(statistics.median(runs), 3)
            if baseline:
                before = statistics.median(baseline_runs)
                figures[f"{name}_baseline_cpu_s_median"] = round(before, 3)
                figures[f"{name}_ratio"] = round(statistics.median(runs) / before, 2)
        return figures
