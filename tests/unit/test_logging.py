"""Log lines never carry secrets: redacted keys, and tracebacks without local variables."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading

import pytest
import structlog

from src.infrastructure.logging import configure_logging, flush_logs, get_logger
from src.infrastructure.settings import ObservabilitySettings, Settings


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_tracebacks_and_fields_never_show_secrets(log_format: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(observability=ObservabilitySettings(log_format=log_format)))  # type: ignore[arg-type]
    try:
        password = "-".join(["hunter2", "local", "variable"])  # not spelled out in the source shown
        raise ValueError("failed")
    except ValueError as exc:
        token = "".join(["tok", "-", "123456"])
        get_logger("parley.test").error("operation_failed", exc_info=exc, refresh_token=token)
        logging.getLogger("uvicorn.error").exception("stdlib failure")
    flush_logs()
    err = capsys.readouterr().err
    assert "operation_failed" in err
    assert "ValueError" in err  # the traceback is there
    assert password not in err
    assert "tok-123456" not in err
    configure_logging(Settings(observability=ObservabilitySettings(log_format="console", log_level="INFO")))


class _RecordsWhereRendered(Exception):
    """Remembers the thread its message was rendered in (rendering a traceback is the costly part)."""

    rendered_in: list[str] = []

    def __str__(self) -> str:
        self.rendered_in.append(threading.current_thread().name)
        return "rendered"


@pytest.mark.parametrize("log_format", ["json", "console"])
async def test_tracebacks_are_rendered_off_the_event_loop(log_format: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(observability=ObservabilitySettings(log_format=log_format)))  # type: ignore[arg-type]
    _RecordsWhereRendered.rendered_in.clear()
    structlog.contextvars.bind_contextvars(request_id="req-off-loop")
    try:
        try:
            raise _RecordsWhereRendered()
        except _RecordsWhereRendered:
            get_logger("parley.http").exception("unhandled_error")
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        # Nothing was rendered in the loop's thread: the lines wait for the writer.
        assert threading.current_thread().name not in _RecordsWhereRendered.rendered_in
        flush_logs()
    finally:
        structlog.contextvars.clear_contextvars()
    err = capsys.readouterr().err
    assert _RecordsWhereRendered.rendered_in
    assert set(_RecordsWhereRendered.rendered_in) == {"parley-log-writer"}
    assert err.count("_RecordsWhereRendered") >= 2
    # A standard-library line keeps the request context it was logged in.
    stdlib_line = next(line for line in err.splitlines() if "Exception in ASGI application" in line)
    assert "req-off-loop" in stdlib_line


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_secret_query_values_are_masked_in_every_line(log_format: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(observability=ObservabilitySettings(log_format=log_format)))  # type: ignore[arg-type]
    # The shape of uvicorn's access line, and a field of Parley's own.
    logging.getLogger("uvicorn.error").warning(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/api/v1/ws/chat?token=eyJsecret&lang=en", "1.1", 101
    )
    get_logger("parley.access").warning("request", path="/x?api_key=pk_secretkey&page=2")
    flush_logs()
    err = capsys.readouterr().err
    assert "token=****&lang=en" in err
    assert "api_key=****&page=2" in err
    assert "eyJsecret" not in err
    assert "pk_secretkey" not in err


#: Run in a process of its own: which modules are imported, and the logging set-up, are global.
_FIRST_LINE_SCRIPT = """
import logging, sys
from src.infrastructure.logging import configure_logging_on_first_line, flush_logs, get_logger
from src.infrastructure.settings import ObservabilitySettings, Settings

configure_logging_on_first_line(Settings(observability=ObservabilitySettings(log_format="json", log_level="INFO")))
logger = get_logger("parley.test")
logging.getLogger("sqlalchemy.engine.Engine").info("SELECT 1")  # below that logger's level
logging.getLogger("parley.test").debug("below the level")
print("structlog before a line:", "structlog" in sys.modules, "rich" in sys.modules, file=sys.stdout)
logging.getLogger("alembic.runtime.migration").info("Running upgrade %s", "head?token=secret-value")
logger.warning("from_structlog", password="hunter2")
flush_logs()
"""


@pytest.mark.parametrize("first", ["stdlib", "structlog"])
def test_logging_is_configured_when_the_first_line_is_logged(first: str) -> None:
    """The CLI's set-up: nothing of structlog (nor the Rich console it loads) until a line passes the
    level, and then every line is written as ``configure_logging`` would write it."""
    script = _FIRST_LINE_SCRIPT
    if first == "structlog":  # the first line is structlog's own: it configures everything too
        script = script.replace(
            'logging.getLogger("alembic.runtime.migration").info("Running upgrade %s", "head?token=secret-value")\n',
            "",
        ).replace("flush_logs()", 'logging.getLogger("alembic.runtime.migration").info("after")\nflush_logs()')

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)

    assert done.stdout.strip() == "structlog before a line: False False"
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    events = [line["event"] for line in lines]
    assert "SELECT 1" not in events
    assert "below the level" not in events
    assert "from_structlog" in events
    structlog_line = lines[events.index("from_structlog")]
    assert structlog_line["password"] == "[redacted]"
    assert structlog_line["level"] == "warning"
    assert structlog_line["logger"] == "parley.test"
    if first == "stdlib":
        assert events[0] == "Running upgrade head?token=****"
        assert lines[0]["logger"] == "alembic.runtime.migration"
    else:
        assert events == ["from_structlog", "after"]


def test_lines_go_to_the_stderr_of_the_moment_not_a_closed_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Configured while one stream was stderr (a test's capture), written after it was closed and
    replaced: the line reaches the new one, and nothing reports a logging error."""
    import io

    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging(Settings(observability=ObservabilitySettings(log_format="json")))
    get_logger("parley.test").warning("while_the_first_was_open")
    flush_logs()
    first.close()
    monkeypatch.setattr(sys, "stderr", second)
    get_logger("parley.test").warning("after_it_closed")
    flush_logs()
    written = second.getvalue()
    assert "after_it_closed" in written
    assert "Logging error" not in written
    configure_logging(Settings(observability=ObservabilitySettings(log_format="console", log_level="INFO")))
