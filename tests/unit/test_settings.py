from __future__ import annotations

import re
import stat
from dataclasses import fields
from decimal import Decimal
from pathlib import Path

import pytest

from src.infrastructure.redaction import mask_url
from src.infrastructure.settings import ConfigError, Settings, load_settings
from src.infrastructure.settings.reading import variable_of

ROOT = Path(__file__).resolve().parents[2]


def load(tmp_path: Path, **env: str) -> Settings:
    return load_settings({"PARLEY_VAR_DIR": str(tmp_path), **env}, env_file=None)


def test_defaults_are_the_embedded_ones(tmp_path: Path) -> None:
    settings = load(tmp_path, SECRET_KEY="x" * 32)
    assert settings.app_env == "development"
    assert settings.server.port == 8000
    assert settings.database.url == f"sqlite+aiosqlite:///{(tmp_path / 'parley.db').as_posix()}"
    assert settings.redis.url is None
    assert settings.database.slow_query_ms == 200
    assert settings.server.max_body_bytes == 1024 * 1024
    assert settings.observability.log_format == "console"
    assert settings.server.cors_origins == ()
    # A reply's history is capped well below today's 128k-1M windows, and older turns are summarised.
    assert (settings.chat.context_tokens, settings.chat.context_summary) == (16_000, True)


def declared_values(settings: Settings) -> dict[str, object]:
    """Every setting read by its declaration alone (``var``), by variable name."""
    values: dict[str, object] = {}
    for group in (settings, *settings.groups()):
        for setting in fields(group):  # type: ignore[arg-type]
            spec = variable_of(setting)
            if spec is not None and not spec.manual:
                values[spec.name] = getattr(group, setting.name)
    return values


def test_every_declared_setting_loads_its_declared_default(tmp_path: Path) -> None:
    loaded, declared = load(tmp_path, SECRET_KEY="x" * 32), Settings()
    assert len(declared_values(declared)) > 70
    read, defaults = declared_values(loaded), declared_values(declared)
    assert (read.pop("PARLEY_VAR_DIR"), defaults.pop("PARLEY_VAR_DIR")) == (tmp_path, Path("var"))
    assert read == defaults
    assert (loaded.llm.retry_base_delay, loaded.usage.budget_pro_monthly_usd) == (0.5, Decimal("50"))


def test_each_variable_is_declared_once(tmp_path: Path) -> None:
    settings = Settings()
    names = [
        spec.name
        for group in (settings, *settings.groups())
        for setting in fields(group)  # type: ignore[arg-type]
        if (spec := variable_of(setting)) is not None
    ]
    assert len(names) == len(set(names))
    assert len(settings.groups()) >= 10


def test_config_show_names_each_variable_as_env_example_documents_it(tmp_path: Path) -> None:
    """Regression: `parley config show` printed DB_POOL_PING_AFTER for DB_POOL_PING_AFTER_SECONDS."""
    documented = set(re.findall(r"^#?\s?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    shown = set(load(tmp_path, SECRET_KEY="x" * 32).masked())
    assert shown - documented == set()
    assert documented - shown == set()


def test_production_logs_json_by_default(tmp_path: Path) -> None:
    settings = load(tmp_path, APP_ENV="production", SECRET_KEY="s" * 40)
    assert settings.observability.log_format == "json"
    assert settings.is_production


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PORT", "abc", "PORT must be a whole number, got 'abc'"),
        ("PORT", "70000", "PORT must be at most 65535, got 70000"),
        ("PORT", "0", "PORT must be at least 1, got 0"),
        (
            "DATABASE_URL",
            "mysql://localhost/db",
            "DATABASE_URL must start with postgresql+asyncpg:// or sqlite+aiosqlite://",
        ),
        ("DATABASE_URL", "postgresql+asyncpg://host:notaport/db", "DATABASE_URL is not a valid URL"),
        ("DATABASE_URL", "postgresql+asyncpg:///db", "DATABASE_URL has no host"),
        ("DATABASE_URL", "sqlite+aiosqlite://", "DATABASE_URL must name a database file"),
        ("REDIS_URL", "http://localhost:6379", "REDIS_URL must start with redis://"),
        ("SECRET_KEY", "short", "SECRET_KEY is too short: use at least 32 characters"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be one of json, console, got 'xml'"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("APP_ENV", "staging", "APP_ENV must be one of development, test, production"),
        ("SLOW_QUERY_MS", "fast", "SLOW_QUERY_MS must be a whole number"),
        ("MAX_BODY_BYTES", "-1", "MAX_BODY_BYTES must be at least 1"),
        ("CORS_ORIGINS", "example.com", "CORS_ORIGINS has 'example.com', which is not '*' or an http(s) origin"),
        ("WS_MAX_CONNECTIONS_PER_USER", "0", "WS_MAX_CONNECTIONS_PER_USER must be at least 1"),
        ("WS_AUTH_TIMEOUT_SECONDS", "soon", "WS_AUTH_TIMEOUT_SECONDS must be a number"),
        ("WS_SEND_QUEUE_FRAMES", "4", "WS_SEND_QUEUE_FRAMES must be at least 16"),
        ("CHAT_CONTEXT_TOKENS", "100", "CHAT_CONTEXT_TOKENS must be at least 256"),
        ("CHAT_CONTEXT_SUMMARY", "maybe", "CHAT_CONTEXT_SUMMARY"),
    ],
)
def test_bad_configuration_names_the_variable_and_the_problem(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    env = {"SECRET_KEY": "k" * 32, variable: value}
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, **env)
    assert caught.value.variable == variable
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_production_requires_a_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY is required in production"):
        load(tmp_path, APP_ENV="production")
    assert not (tmp_path / "secret_key").exists()


def test_development_generates_and_keeps_a_secret_key(tmp_path: Path) -> None:
    first = load(tmp_path)
    assert first.identity.secret_key_generated
    assert len(first.identity.secret_key) >= 32
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    second = load(tmp_path)
    assert second.identity.secret_key == first.identity.secret_key  # tokens survive a restart
    assert not second.identity.secret_key_generated


def test_common_database_url_spellings_use_the_async_drivers(tmp_path: Path) -> None:
    settings = load(tmp_path, SECRET_KEY="k" * 32, DATABASE_URL="postgres://u:p@db:5432/parley")
    assert settings.database.url == "postgresql+asyncpg://u:p@db:5432/parley"
    assert settings.database.backend == "postgresql"


def test_env_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=9000\nLOG_LEVEL=debug\nSECRET_KEY=" + "f" * 32 + "\n")
    settings = load_settings({"PARLEY_VAR_DIR": str(tmp_path), "PORT": "9100"}, env_file=env_file)
    assert settings.server.port == 9100
    assert settings.observability.log_level == "DEBUG"
    assert settings.identity.secret_key == "f" * 32


def test_bad_value_in_env_file_is_reported(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=eighty\n")
    with pytest.raises(ConfigError, match="PORT must be a whole number"):
        load_settings({"PARLEY_VAR_DIR": str(tmp_path)}, env_file=env_file)


def test_cors_origins_are_split_and_trimmed(tmp_path: Path) -> None:
    settings = load(tmp_path, SECRET_KEY="k" * 32, CORS_ORIGINS=" https://a.example , http://localhost:3000 ")
    assert settings.server.cors_origins == ("https://a.example", "http://localhost:3000")


def test_masked_settings_hide_secrets_and_passwords(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        SECRET_KEY="top-secret-value-that-is-long-enough",
        DATABASE_URL="postgresql+asyncpg://parley:hunter2@db/parley",
        REDIS_URL="redis://:redispass@cache:6379/0",
    )
    shown = settings.masked()
    assert shown["SECRET_KEY"] == "****"
    assert shown["DATABASE_URL"] == "postgresql+asyncpg://parley:****@db/parley"
    assert shown["REDIS_URL"] == "redis://:****@cache:6379/0"
    assert "hunter2" not in repr(settings.masked())
    assert "top-secret" not in repr(settings)


def test_masked_settings_hide_every_url_password_and_secret_query_value(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        SECRET_KEY="k" * 32,
        OTEL_EXPORTER_OTLP_ENDPOINT="https://otel:otelpass@collector.example:4318",
        PARAGRAPH_SOURCE_URL="https://source.example/para?token=paratoken&lang=en",
        DICTIONARY_API_URL="https://dict.example/api?apikey=dictkey123&format=json",
        OPENAI_BASE_URL="https://proxy:proxypass@llm.example/v1",
    )
    shown = settings.masked()
    assert shown["OTEL_EXPORTER_OTLP_ENDPOINT"] == "https://otel:****@collector.example:4318"
    assert shown["PARAGRAPH_SOURCE_URL"] == "https://source.example/para?token=****&lang=en"
    assert shown["DICTIONARY_API_URL"] == "https://dict.example/api?apikey=****&format=json"
    assert shown["OPENAI_BASE_URL"] == "https://proxy:****@llm.example/v1"
    printed = repr(shown)
    for secret in ("otelpass", "paratoken", "dictkey123", "proxypass"):
        assert secret not in printed


def test_mask_url_leaves_urls_without_password_alone() -> None:
    assert mask_url("redis://localhost:6379/0") == "redis://localhost:6379/0"
