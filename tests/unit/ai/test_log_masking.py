"""Personal data never reaches a log line, whatever field it is logged in."""

from __future__ import annotations

import json
import logging

import pytest

from src.infrastructure.logging import configure_logging, flush_logs, get_logger
from src.infrastructure.settings import ObservabilitySettings, Settings


def test_personal_data_is_masked_in_structlog_and_stdlib_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(observability=ObservabilitySettings(log_format="json")))
    try:
        get_logger("parley.test").warning(
            "signup for ada@example.com", card="4111 1111 1111 1111", phone="call +44 20 7946 0958", count=3
        )
        logging.getLogger("uvicorn.error").warning("client 203.0.113.9 sent a body")
        flush_logs()  # lines are written by the log writer thread
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        configure_logging(Settings(observability=ObservabilitySettings(log_format="console", log_level="INFO")))
    first, second = lines[-2], lines[-1]
    assert first["event"] == "signup for [EMAIL_1]"
    assert first["card"] == "[CARD_1]"
    assert first["phone"] == "call [PHONE_1]"
    assert first["count"] == 3
    assert "[IP_ADDRESS_1]" in second["event"]
    assert "203.0.113.9" not in json.dumps(lines)
