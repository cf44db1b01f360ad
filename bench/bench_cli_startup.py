"""CPU time of `parley` commands from start to exit (median of 5): --help, config show, models, users list.

Each command runs as its own process on a migrated SQLite database in a temporary directory; the
figure is the user + system CPU seconds of that process (``os.wait4``), which a busy machine
inflates less than wall time does.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PARLEY = str(Path(sys.executable).with_name("parley"))
RUNS = 5
COMMANDS = {
    "help": ["--help"],
    "config_show": ["config", "show"],
    "models": ["models"],
    "users_list": ["users", "list"],
}


def cpu_seconds(args: list[str], env: dict[str, str], cwd: str) -> float:
    process = subprocess.Popen([PARLEY, *args], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"parley {' '.join(args)} exited {process.returncode}")
    return usage.ru_utime + usage.ru_stime


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": directory,
            "APP_ENV": "development",
            "PARLEY_VAR_DIR": directory,
            "DATABASE_URL": f"sqlite+aiosqlite:///{directory}/parley.db",
            "SECRET_KEY": "bench-secret-key-bench-secret-key-0123456789",
        }
        subprocess.run([PARLEY, "db", "upgrade"], env=env, cwd=directory, check=True, capture_output=True)
        figures: dict[str, float] = {}
        for name, args in COMMANDS.items():
            figures[f"{name}_cpu_s_median"] = round(
                statistics.median(cpu_seconds(args, env, directory) for _ in range(RUNS)), 3
            )
        return figures
