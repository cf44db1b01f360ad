"""The chat and budget settings: defaults, parsing, and one readable line when a value is wrong."""

from __future__ import annotations

from decimal import Decimal

import pytest

from src.infrastructure.settings import ConfigError
from tests.conftest import SettingsFactory


def test_defaults(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    assert (
        settings.chat.max_message_chars,
        settings.chat.reply_stream_ttl_seconds,
        settings.chat.sse_heartbeat_seconds,
    ) == (
        32_000,
        120.0,
        15.0,
    )
    assert (settings.usage.budget_free_monthly_usd, settings.usage.budget_pro_monthly_usd) == (
        Decimal("5"),
        Decimal("50"),
    )
    assert settings.masked()["BUDGET_PRO_MONTHLY_USD"] == "50"


def test_values_are_read(make_settings: SettingsFactory) -> None:
    settings = make_settings(
        MAX_MESSAGE_CHARS="1000",
        BUDGET_FREE_MONTHLY_USD="0.25",
        REPLY_FLUSH_INTERVAL_MS="100",
        REPLY_LEASE_SECONDS="10",
        REPLY_TIMEOUT_SECONDS="30",
    )
    assert settings.chat.max_message_chars == 1000
    assert settings.usage.budget_free_monthly_usd == Decimal("0.25")
    assert (
        settings.chat.reply_flush_interval_ms,
        settings.chat.reply_lease_seconds,
        settings.chat.reply_timeout_seconds,
    ) == (
        100,
        10.0,
        30.0,
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BUDGET_FREE_MONTHLY_USD", "five", "BUDGET_FREE_MONTHLY_USD must be an amount in dollars"),
        ("BUDGET_PRO_MONTHLY_USD", "-1", "BUDGET_PRO_MONTHLY_USD must be between 0 and"),
        ("MAX_MESSAGE_CHARS", "0", "MAX_MESSAGE_CHARS must be at least 1"),
        ("SSE_HEARTBEAT_SECONDS", "0", "SSE_HEARTBEAT_SECONDS must be at least 0.1"),
        ("REPLY_LEASE_SECONDS", "1", "REPLY_LEASE_SECONDS must be at least 2"),
    ],
)
def test_bad_values_stop_with_one_line(make_settings: SettingsFactory, variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(**{variable: value})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
