"""Opt-in checks against the real providers: `make test-live` (PARLEY_LIVE_TESTS=1 and the keys set).

They cost a few tokens and need the internet, so `make test` never runs them: without
PARLEY_LIVE_TESTS=1 every test here is skipped, and a provider without its key is skipped too.
"""

from __future__ import annotations

import os

import pytest

from src.infrastructure.settings import Settings, load_settings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("PARLEY_LIVE_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="live provider checks run only with `make test-live` (PARLEY_LIVE_TESTS=1)")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def live_settings() -> Settings:
    """The developer's real configuration (environment and .env), as `parley` reads it."""
    return load_settings()
