"""Schemathesis over the whole OpenAPI document, against a real ``parley serve``, as a member and as an admin.

Every check runs (no 5xx; status codes, content types, headers and bodies as documented; SSE events as
described; schema-violating input refused; unsupported methods, missing headers, ignored auth, use after
delete, object-level authorization), but one: ``positive_data_acceptance``. The use cases judge some inputs
by rules a JSON schema cannot state (whitespace collapsed before a length is checked, a password not commonly
used and not the email, search words of letters/digits/apostrophes, ``knowledge`` and ``grounding``
exclusive, ``from`` not after ``to``), so a schema-valid value may still be refused, always as a 422 problem
naming the rule. The run is bounded (``MAX_EXAMPLES`` per operation, a fixed seed, no coverage phase) so both
runs stay around a minute on two busy cores.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunCli
from tests.e2e.identity_client import ADMIN_EMAIL, ADMIN_PASSWORD, register, serve, sign_in

pytestmark = pytest.mark.e2e

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 6
SEED = 20261206


def fuzz(base_url: str, token: str, workdir: Path, *, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            SCHEMATHESIS,
            "--config-file",
            str(CONFIG),
            "run",
            f"{base_url}/schema/openapi.json",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--phases",
            "examples,fuzzing",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--workers",
            "1",
            "--suppress-health-check",
            "all",
            "--no-color",
            "--header",
            f"Authorization: Bearer {token}",
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=workdir,  # its cache (.schemathesis/) stays out of the repository
    )


def test_the_api_does_what_its_openapi_document_says(run_cli: RunCli, start_server: Any, tmp_path: Path) -> None:
    server = serve(run_cli, start_server, OFFLINE_TOKEN_DELAY_MS="0")
    with httpx.Client(base_url=server.base_url, timeout=15) as client:
        register(client, "fuzzed@example.com")
        creator = sign_in(client, "fuzzed@example.com")["access_token"]
        admin = sign_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)["access_token"]
    for who, token in (("creator", creator), ("admin", admin)):
        run = fuzz(server.base_url, token, tmp_path)
        # Fuzzed bodies can be megabytes on one line: cut long lines so the failures themselves show.
        report = "\n".join(line[:400] for line in (run.stdout + run.stderr).splitlines())[-20000:]
        assert run.returncode == 0, f"schemathesis as {who}:\n{report}"
        assert "API Operations" in run.stdout, report
    assert "Exception in ASGI application" not in server.logs()
