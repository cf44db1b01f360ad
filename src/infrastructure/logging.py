"""structlog, configured once for every front door.

JSON lines in production, a readable console otherwise. Standard-library loggers (uvicorn,
SQLAlchemy, SAQ, alembic) are routed through the same processors, so every line has the same
shape and carries the ``request_id`` bound in the request's context.

Logging never blocks the event loop: the calling thread only builds the event (a dict: context,
level, redaction) and queues it; one writer thread renders it (tracebacks included, the costly
part) and writes it (``flush_logs`` waits for what is queued). Secrets never reach a line: keys
named like secrets are redacted, tracebacks show no local variables, secret-looking query values
(``?token=``) are masked wherever they appear, and neither SQL statement parameters nor the values
PostgreSQL quotes in its error details (``Key (email)=(...)``) are ever written.
"""

from __future__ import annotations

import atexit
import io
import logging
import logging.config
import queue
import re
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO, cast

from src.infrastructure.redaction import MASK, redact_query_values
from src.infrastructure.settings import Settings

if TYPE_CHECKING:
    import structlog


def mask_pii(logger: Any, method: str, event_dict: Any) -> Any:
    """``log_masking.mask_pii``, imported with the first line logged: its phone and national-id
    recognizers cost a short CLI command a tenth of a second, and most commands log nothing."""
    from src.infrastructure.ai.log_masking import mask_pii as masking

    return masking(logger, method, event_dict)


#: Keys whose values are never written, wherever they appear in an event.
_SECRET_KEYS = frozenset(
    {
        "password",
        "new_password",
        "current_password",
        "secret",
        "secret_key",
        "token",
        "access_token",
        "refresh_token",
        "api_key",
        "authorization",
        "cookie",
        "content",
        "body",
    }
)
#: SQLAlchemy's ``[parameters: ...]`` (engines hide them; this catches any other path) and the
#: values of a PostgreSQL error detail: ``Key (email)=(ada@example.com) already exists``.
_SQL_PARAMETERS = re.compile(r"\[parameters: .*?\]\n?(?=\(Background|\Z|\n|$)", re.DOTALL)
_KEY_DETAIL = re.compile(r"(Key \([^)]*\))=\((?:[^()]|\([^()]*\))*\)")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: How long a flush (or the exit) waits for queued lines: a long traceback takes a while to render
#: on a busy machine, and the lines that explain a failure matter most.
WRITE_TIMEOUT_SECONDS = 30.0
#: The record attribute carrying the request context of a standard-library line to the writer thread.
_CONTEXT_ATTRIBUTE = "parley_context"


def scrub(text: str) -> str:
    """``text`` without SQL parameters, PostgreSQL key values or secret-looking query values."""
    if "=" not in text and "[parameters:" not in text:
        return text
    if "[parameters:" in text:
        text = _SQL_PARAMETERS.sub("[parameters hidden]\n", text)
    if "Key (" in text:
        text = _KEY_DETAIL.sub(rf"\1=({MASK})", text)
    return redact_query_values(text)


def _redact_secrets(_: Any, __: str, event_dict: structlog.types.EventDict) -> structlog.types.EventDict:
    for key in _SECRET_KEYS.intersection(event_dict):
        event_dict[key] = "[redacted]"
    for key, value in event_dict.items():
        if isinstance(value, str) and key not in _SECRET_KEYS:
            event_dict[key] = scrub(value)
    return event_dict


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [_scrubbed(item) for item in value]
    if isinstance(value, dict):
        return {key: _scrubbed(item) for key, item in value.items()}
    return value


def _scrub_rendered_exception(_: Any, __: str, event_dict: structlog.types.EventDict) -> structlog.types.EventDict:
    """The exception as rendered for JSON (a string, or structured frames and messages)."""
    if "exception" in event_dict:
        event_dict["exception"] = _scrubbed(event_dict["exception"])
    return event_dict


def _capture_exc_info(_: Any, __: str, event_dict: structlog.types.EventDict) -> structlog.types.EventDict:
    """Turn ``exc_info=True`` (or an exception) into the exception itself now, in the calling thread:
    it is rendered later, by the writer thread, where ``sys.exc_info()`` means nothing."""
    exc_info = event_dict.get("exc_info")
    if exc_info is True:
        event_dict["exc_info"] = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        event_dict["exc_info"] = (type(exc_info), exc_info, exc_info.__traceback__)
    return event_dict


def _merge_record_context(_: Any, __: str, event_dict: structlog.types.EventDict) -> structlog.types.EventDict:
    """The request context a standard-library line was logged in (captured when it was queued)."""
    record = event_dict.get("_record")
    context = getattr(record, _CONTEXT_ATTRIBUTE, None)
    if context:
        return {**context, **event_dict}
    return event_dict


def _scrubbing_formatter(
    formatter: Callable[[TextIO, structlog.types.ExcInfo], None],
) -> Callable[[TextIO, structlog.types.ExcInfo], None]:
    def render(sio: TextIO, exc_info: structlog.types.ExcInfo) -> None:
        rendered = io.StringIO()
        formatter(rendered, exc_info)
        text = rendered.getvalue()
        # Colours split what the patterns look for: check the plain text, and when something had
        # to be masked write the plain, masked text (a traceback without colours, once).
        plain = _ANSI.sub("", text)
        cleaned = scrub(plain)
        sio.write(text if cleaned == plain else cleaned)

    return render


def _has_rich() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written, not when logging was configured: a stream
    replaced since (a test runner's capture that ended, a supervisor's) gets the lines, instead of a
    closed one raising a logging error for each."""

    name = "<stderr>"

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _QueueingHandler(logging.Handler):
    """Hands records to the writer thread untouched (``logging.handlers.QueueHandler`` would format
    them, tracebacks included, in the calling thread: on the event loop)."""

    def __init__(self, writer: _LogWriter) -> None:
        super().__init__()
        self._writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        if not isinstance(record.msg, dict):  # a standard-library line: keep its request context
            import structlog

            setattr(record, _CONTEXT_ATTRIBUTE, structlog.contextvars.get_contextvars())
        self._writer.put(record)


class _LogWriter:
    """One daemon thread that formats and writes every queued record, in order."""

    def __init__(self, target: logging.Handler) -> None:
        self.target = target
        self._queue: queue.SimpleQueue[logging.LogRecord | threading.Event | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="parley-log-writer", daemon=True)
        self._thread.start()

    def put(self, record: logging.LogRecord) -> None:
        self._queue.put(record)

    def flush(self, timeout: float) -> None:
        if not self._thread.is_alive():
            return
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def stop(self, timeout: float = WRITE_TIMEOUT_SECONDS) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def _run(self) -> None:
        # Signals (Ctrl-C, SIGTERM) are the main thread's to handle, never this thread's.
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                self.target.flush()
                item.set()
                continue
            try:
                self.target.handle(item)
            except Exception:  # noqa: BLE001 - a line that cannot be written must not stop the others
                self.target.handleError(item)


_writer: _LogWriter | None = None


def flush_logs(timeout: float = WRITE_TIMEOUT_SECONDS) -> None:
    """Wait until every line logged so far is written (at most ``timeout`` seconds)."""
    if _writer is not None:
        _writer.flush(timeout)


def _stop_writer() -> None:
    global _writer
    if _writer is not None:
        _writer.stop()
        _writer = None


atexit.register(_stop_writer)


def configure_logging(settings: Settings) -> None:
    """Configure structlog and the standard library's loggers now (the API, the worker, tests)."""
    global _writer, _pending
    import structlog

    _pending = None
    # Runs in the calling thread: cheap (no rendering), and must see the caller's context.
    early: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_secrets,
        _capture_exc_info,
    ]
    # Standard-library lines are turned into events by the writer thread.
    foreign: list[structlog.types.Processor] = [
        _merge_record_context,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_secrets,
    ]
    # Tracebacks never show local variables: they can hold passwords, tokens and message bodies.
    renderers: list[structlog.types.Processor]
    if settings.observability.log_format == "json":
        renderers = [
            structlog.processors.ExceptionRenderer(structlog.tracebacks.ExceptionDictTransformer(show_locals=False)),
            _scrub_rendered_exception,
            mask_pii,  # personal data never reaches a log line (src/infrastructure/ai/log_masking.py)
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ]
    else:
        formatter = (
            structlog.dev.RichTracebackFormatter(show_locals=False) if _has_rich() else structlog.dev.plain_traceback
        )
        renderers = [
            mask_pii,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(), exception_formatter=_scrubbing_formatter(formatter)
            ),
        ]

    structlog.configure(
        processors=[
            # A line below the level is dropped before any work is done on it (an access line per
            # request at LOG_LEVEL=WARNING, debug lines at INFO).
            structlog.stdlib.filter_by_level,
            *early,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    output = logging.StreamHandler(_CurrentStderr())
    output.setFormatter(structlog.stdlib.ProcessorFormatter(processors=renderers, foreign_pre_chain=foreign))
    _stop_writer()  # configured again (tests, a reload): the lines queued so far are written first
    _writer = _LogWriter(output)
    logging.config.dictConfig(_logging_config(settings, lambda: _QueueingHandler(_writer)))


def _logging_config(settings: Settings, handler: Callable[[], logging.Handler]) -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"default": {"()": handler}},
        "root": {"handlers": ["default"], "level": settings.observability.log_level},
        "loggers": {
            # uvicorn's own handlers are dropped: its lines go through ours. Its access log is
            # off because Parley writes one richer access line per request itself (and when an
            # operator turns it on, its query strings are scrubbed like every other line).
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
            "sqlalchemy.engine": {"level": "INFO" if settings.database.echo else "WARNING"},
            "aiosqlite": {"level": "WARNING"},
            "asyncio": {"level": "WARNING"},
            "alembic": {"level": "INFO"},
            # Alembic announces each of its autogenerate plugins at INFO whenever it is imported
            # (`parley status`, `db check`): noise, not migrations.
            "alembic.runtime.plugins": {"level": "WARNING"},
            "saq": {"level": "INFO"},
        },
    }


#: Settings whose logging is configured when the first line is logged (``configure_logging_on_first_line``).
_pending: Settings | None = None
_pending_lock = threading.Lock()


def configure_logging_on_first_line(settings: Settings) -> None:
    """Configure logging as ``configure_logging`` would, the moment the first line is logged.

    For short commands (the CLI), which mostly log nothing: structlog, and the Rich console it
    imports for tracebacks, cost a fifth of such a command's start-up. The levels are set now, so
    a line below them is dropped as it would be; the first line that passes configures everything
    and is written like every line after it.
    """
    global _pending
    _pending = settings
    logging.config.dictConfig(_logging_config(settings, _ConfigureOnFirstLine))


def _configure_pending() -> None:
    with _pending_lock:
        if _pending is not None:
            configure_logging(_pending)


class _ConfigureOnFirstLine(logging.Handler):
    """The root handler until the first line: it configures logging, then hands the line on."""

    def emit(self, record: logging.LogRecord) -> None:
        _configure_pending()
        for handler in logging.getLogger().handlers:
            if handler is not self and record.levelno >= handler.level:
                handler.handle(record)


class _LoggerOnFirstUse:
    """A structlog logger made, with logging configured, when it is first used (not at import)."""

    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    def __getattr__(self, attribute: str) -> Any:
        logger = self._logger
        if logger is None:
            import structlog

            _configure_pending()
            logger = self._logger = structlog.stdlib.get_logger(self._name)
        return getattr(logger, attribute)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """The named structlog logger; structlog itself is imported when a line is first logged."""
    return cast("structlog.stdlib.BoundLogger", _LoggerOnFirstUse(name))
