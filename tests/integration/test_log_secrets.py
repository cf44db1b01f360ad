"""No database error ever carries statement parameters or the values PostgreSQL quotes in its
details into a log line (issue 21, "Logs"), on SQLite and PostgreSQL, in both log formats."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import Table, insert
from sqlalchemy.exc import IntegrityError
from uuid_utils.compat import uuid7

from src.infrastructure.logging import configure_logging, flush_logs, get_logger
from src.infrastructure.persistence.database import build_database_config
from src.infrastructure.persistence.models import UserModel
from src.infrastructure.settings import ObservabilitySettings, Settings

EMAIL = "secret-person@example.com"
PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0c2FsdA$c2VjcmV0aGFzaHZhbHVl"


def row() -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "id": uuid7(),
        "email": EMAIL,
        "display_name": "Secret",
        "password_hash": PASSWORD_HASH,
        "role": "creator",
        "tier": "free",
        "is_active": True,
        "token_version": 0,
        "created_at": now,
        "updated_at": now,
    }


@pytest.mark.parametrize("log_format", ["json", "console"])
async def test_a_database_error_logs_no_parameters_and_no_key_values(
    migrated_settings: Settings, log_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = build_database_config(migrated_settings)
    engine = config.get_engine()
    users = UserModel.__table__
    assert isinstance(users, Table)
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(users).values(**row()))
        with pytest.raises(IntegrityError) as caught:
            async with engine.begin() as connection:
                await connection.execute(insert(users).values(**row()))
    finally:
        await engine.dispose()
    assert EMAIL not in str(caught.value)
    assert PASSWORD_HASH not in str(caught.value)

    configure_logging(Settings(observability=ObservabilitySettings(log_format=log_format)))  # type: ignore[arg-type]
    try:
        try:
            raise caught.value
        except IntegrityError:
            get_logger("parley.http").exception("unhandled_error")
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        flush_logs()
    finally:
        configure_logging(Settings(observability=ObservabilitySettings(log_format="console", log_level="INFO")))
    err = capsys.readouterr().err
    assert "IntegrityError" in err  # the error is logged ...
    assert EMAIL not in err  # ... without the values: not as parameters, not in a "Key (email)=(...)" detail
    assert PASSWORD_HASH not in err
    assert "c2VjcmV0aGFzaHZhbHVl" not in err
