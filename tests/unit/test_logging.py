"""Log lines never carry secrets: redacted keys, and tracebacks without local variables."""

from __future__ import annotations

import logging

import pytest

from src.infrastructure.logging import configure_logging, get_logger
from src.infrastructure.settings import Settings


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_tracebacks_and_fields_never_show_secrets(log_format: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format=log_format))  # type: ignore[arg-type]
    try:
        password = "-".join(["hunter2", "local", "variable"])  # not spelled out in the source shown
        raise ValueError("failed")
    except ValueError as exc:
        token = "".join(["tok", "-", "123456"])
        get_logger("parley.test").error("operation_failed", exc_info=exc, refresh_token=token)
        logging.getLogger("uvicorn.error").exception("stdlib failure")
    err = capsys.readouterr().err
    assert "operation_failed" in err
    assert "ValueError" in err  # the traceback is there
    assert password not in err
    assert "tok-123456" not in err
    configure_logging(Settings(log_format="console", log_level="INFO"))
