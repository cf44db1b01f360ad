"""Run every benchmark in bench/ (modules named bench_*.py), print figures, write JSON results.

    make bench                      # all of them
    uv run python -m bench http     # only those whose name contains "http"

Each module has ``run() -> dict`` returning its figures. Results go to bench/results/<name>.json
with the machine and the time they were measured on. Compare ratios measured in one run: these
machines are noisy.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from src.infrastructure.logging import configure_logging
from src.infrastructure.settings import ObservabilitySettings, Settings

HERE = Path(__file__).parent
RESULTS = HERE / "results"


def main(argv: list[str]) -> int:
    wanted = argv[1:] if len(argv) > 1 else []
    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    modules = [m for m in modules if not wanted or any(w in m for w in wanted)]
    if not modules:
        print("no benchmarks to run")
        return 0
    RESULTS.mkdir(exist_ok=True)
    # Benchmarks that run Parley in this process log only warnings: the figures are the output.
    configure_logging(Settings(observability=ObservabilitySettings(log_level="WARNING")))
    for name in modules:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name}: {(module.__doc__ or '').strip().splitlines()[0]}")
        started = time.perf_counter()
        figures = module.run()
        result = {
            "benchmark": name,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "duration_s": round(time.perf_counter() - started, 2),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
            "figures": figures,
        }
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        for key, value in figures.items():
            print(f"   {key:<40} {value}")
        print(f"   -> {RESULTS / (name + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
