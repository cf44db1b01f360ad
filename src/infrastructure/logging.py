"""structlog, configured once for every front door.

JSON lines in production, a readable console otherwise. Standard-library loggers (uvicorn,
SQLAlchemy, SAQ, alembic) are routed through the same processors, so every line has the same
shape and carries the ``request_id`` bound in the request's context.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import Any

import structlog

from src.infrastructure.ai.log_masking import mask_pii
from src.infrastructure.settings import Settings

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


def _redact_secrets(_: Any, __: str, event_dict: structlog.types.EventDict) -> structlog.types.EventDict:
    for key in _SECRET_KEYS.intersection(event_dict):
        event_dict[key] = "[redacted]"
    return event_dict


def _has_rich() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def configure_logging(settings: Settings) -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_secrets,
        mask_pii,  # personal data never reaches a log line (src/infrastructure/ai/log_masking.py)
    ]
    # Tracebacks never show local variables: they can hold passwords, tokens and message bodies.
    renderer: structlog.types.Processor
    if settings.log_format == "json":
        renderer = structlog.processors.JSONRenderer()
        shared.append(
            structlog.processors.ExceptionRenderer(structlog.tracebacks.ExceptionDictTransformer(show_locals=False))
        )
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(),
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False)
            if _has_rich()
            else structlog.dev.plain_traceback,
        )

    structlog.configure(
        processors=[
            # A line below the level is dropped before any work is done on it (an access line per
            # request at LOG_LEVEL=WARNING, debug lines at INFO).
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "structlog": {
                    "()": structlog.stdlib.ProcessorFormatter,
                    "processors": [
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        renderer,
                    ],
                    "foreign_pre_chain": shared,
                }
            },
            "handlers": {
                "default": {
                    "class": "logging.StreamHandler",
                    "formatter": "structlog",
                    "stream": "ext://sys.stderr",
                }
            },
            "root": {"handlers": ["default"], "level": settings.log_level},
            "loggers": {
                # uvicorn's own handlers are dropped: its lines go through ours. Its access log is
                # off because Parley writes one richer access line per request itself.
                "uvicorn": {"handlers": [], "propagate": True},
                "uvicorn.error": {"handlers": [], "propagate": True},
                "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
                "sqlalchemy.engine": {"level": "INFO" if settings.db_echo else "WARNING"},
                "aiosqlite": {"level": "WARNING"},
                "asyncio": {"level": "WARNING"},
                "alembic": {"level": "INFO"},
                "saq": {"level": "INFO"},
            },
        }
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
