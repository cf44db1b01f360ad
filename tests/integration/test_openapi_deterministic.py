"""The OpenAPI document is the same in every process: the web client generated from it
(`make web-client`) and its staleness check (`make web-client-check`) depend on that."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_document_does_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    # Sets (Litestar collects response headers in one) iterate in hash-seed order: with seeds 1 and 4
    # the avatar route's ETag and Cache-Control headers came out in different orders.
    documents = []
    for seed in ("1", "4"):
        out = tmp_path / f"openapi-{seed}.json"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, "scripts/dump_openapi.py", str(out)], cwd=ROOT, env=env, check=True, timeout=120
        )
        documents.append(out.read_bytes())
    assert documents[0] == documents[1]
