"""Web app budgets in Chromium: chat-route JS gzipped, Enter-to-first-token painted, 2,000-message scroll.

Runs the Playwright project ``perf`` (web/e2e/perf.spec.ts) against a real ``parley serve`` with the
offline model and no token delay; the spec writes bench/results/web_ui.json, whose figures this
returns. Needs Node.js, the web build (``make web``) and Debian's Chromium; says so when one is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
FIGURES = ROOT / "bench" / "results" / "web_ui.json"


def run() -> dict[str, object]:
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if shutil.which("npx") is None:
        return {"skipped": "Node.js/npm not found"}
    if not Path(chromium).exists():
        return {"skipped": f"no Chromium at {chromium} (apt-get install chromium)"}
    if not (WEB / "dist" / "index.html").is_file():
        return {"skipped": "the web app is not built (make web)"}
    env = {**os.environ, "OFFLINE_TOKEN_DELAY_MS": "0", "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}
    done = subprocess.run(
        ["npx", "playwright", "test", "--project=perf"],
        cwd=WEB,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        return {"failed": done.stdout[-2000:] + done.stderr[-2000:]}
    figures: dict[str, object] = json.loads(FIGURES.read_text())
    return figures
