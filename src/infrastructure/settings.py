"""Settings: read the environment (and an optional ``.env``) once, validate, fail fast.

Every variable is documented in ``.env.example`` and the README. Bad configuration raises
``ConfigError`` naming the variable and what is wrong; front doors print that one line and exit 2.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from dotenv import dotenv_values

from src.domain.chat.context import DEFAULT_CONTEXT_TOKENS, MIN_CONTEXT_TOKENS
from src.domain.chat.grounding import (
    DEFAULT_EXCERPT_CHARS,
    DEFAULT_PASSAGES,
    MAX_EXCERPT_CHARS,
    MAX_PASSAGES,
    MIN_EXCERPT_CHARS,
)
from src.domain.identity.errors import InvalidEmail
from src.domain.identity.model import normalise_email
from src.domain.llm.routing import FallbackChains
from src.infrastructure.llm.provider_table import (
    NO_ACCESS,
    PROVIDER_NAME,
    ProviderAccess,
    ProviderEntry,
    provider_entries,
    reserved_names,
)
from src.infrastructure.redaction import mask_url
from src.infrastructure.redis_sentinel import SENTINEL_SCHEMES, SentinelUrlError, is_sentinel_url, parse_sentinel_url

AppEnv = Literal["development", "test", "production"]
LogFormat = Literal["json", "console"]

APP_ENVS: tuple[str, ...] = ("development", "test", "production")
LOG_FORMATS: tuple[str, ...] = ("json", "console")
LOG_LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MIN_SECRET_KEY_LENGTH = 32
MAX_MONTHLY_BUDGET_USD = 1_000_000
SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret

_T = TypeVar("_T")


class ConfigError(Exception):
    """A configuration variable is missing or malformed."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"configuration error: {variable} {problem}")


@dataclass(frozen=True, slots=True)
class Variable:
    """How one setting is read: its variable (default: the field's name in capitals) and its limits.
    The type to read comes from the field's default (bool, int, float, str, Path, or None with ``url``)."""

    name: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    #: Allowed values (lower case, or upper with ``upper``).
    choices: tuple[str, ...] = ()
    upper: bool = False
    #: A URL with one of these schemes (the default is then ``None``: unset).
    url: tuple[str, ...] = ()


def var(
    default: _T,
    name: str | None = None,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] = (),
    upper: bool = False,
    url: tuple[str, ...] = (),
    secret: bool = False,
) -> _T:
    """A setting read from one variable by ``load_settings``, declared once: default, name, limits."""
    spec = Variable(name, minimum, maximum, choices, upper, url)
    made: _T = field(default=default, repr=not secret, metadata={"variable": spec})
    return made


HTTP = ("http", "https")
#: Sign-ups never become staff by configuration: admins and moderators are appointed.
DEFAULT_ROLES = ("creator", "viewer")


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting, each declared once: the fields made with ``var`` are read by their declaration
    alone; the others (whose default or check depends on other variables) by ``load_settings``."""

    app_env: AppEnv = "development"
    host: str = var("127.0.0.1")
    port: int = var(8000, minimum=1, maximum=65535)
    database_url: str = ""
    redis_url: str | None = None
    secret_key: str = field(default="", repr=False)
    log_level: str = var("INFO", choices=LOG_LEVELS, upper=True)
    log_format: LogFormat = "console"
    cors_origins: tuple[str, ...] = ()
    slow_query_ms: int = var(200, minimum=0)
    max_body_bytes: int = var(1024 * 1024, minimum=1)
    forwarded_allow_ips: str = var("127.0.0.1")
    var_dir: Path = Path("var")
    db_pool_size: int = var(10, minimum=1)
    db_max_overflow: int = var(10, minimum=0)
    db_pool_timeout: float = var(10.0, minimum=0.1)
    db_pool_ping_after: float = var(1.0, "DB_POOL_PING_AFTER_SECONDS", minimum=0.0)
    db_echo: bool = var(False)
    #: DATABASE_URL points at PgBouncer in transaction pooling mode: no server-side prepared statement caches.
    db_pgbouncer: bool = var(False)
    redis_timeout: float = var(0.5, minimum=0.01)
    ready_timeout: float = var(2.0, minimum=0.1)
    worker_concurrency: int = var(10, minimum=1)
    shutdown_timeout: float = var(4.0, minimum=0.0)
    #: Seconds an idle keep-alive connection stays open. Longer than a load balancer's own idle timeout
    #: (60 s for most), so the balancer never sends a request down a connection the server is closing.
    keep_alive_timeout: float = var(75.0, minimum=1.0)
    #: Seconds between an API or worker process's heartbeats in Redis (the admin system status).
    instance_heartbeat_seconds: float = var(10.0, minimum=1.0)
    # -- platform services -------------------------------------------------------------------
    rate_limit_enabled: bool = var(True)
    rate_limit_anon_per_minute: int = var(60, minimum=1)
    rate_limit_user_per_minute: int = var(120, minimum=1)
    rate_limit_exempt_admins: bool = var(True)
    redis_breaker_failures: int = var(3, minimum=1)
    redis_breaker_reset_seconds: float = var(5.0, minimum=0.1)
    cache_default_ttl: int = var(60, minimum=1)
    outbox_relay_interval: float = var(1.0, minimum=0.05)
    outbox_batch_size: int = var(100, minimum=1)
    metrics_token: str | None = var(None, secret=True)
    otel_endpoint: str | None = var(None, "OTEL_EXPORTER_OTLP_ENDPOINT", url=HTTP)
    otel_service_name: str = var("parley")
    # -- identity ----------------------------------------------------------------------------
    access_token_ttl_seconds: int = var(900, minimum=30, maximum=86_400)
    refresh_token_ttl_days: int = var(30, minimum=1, maximum=365)
    jwt_issuer: str = var("parley")
    jwt_audience: str = var("parley-api")
    admin_email: str | None = None
    admin_password: str | None = field(default=None, repr=False)
    secret_key_generated: bool = False
    #: The role of a new sign-up: ``creator`` (publishes, generates) or ``viewer`` (reads and chats).
    default_role: Literal["creator", "viewer"] = var("creator", choices=DEFAULT_ROLES)
    # -- files (avatars) -----------------------------------------------------------------------
    #: Where uploaded files live when ``files_url`` is not set (default ``<PARLEY_VAR_DIR>/files``).
    files_dir: Path = Path("var/files")
    #: ``s3://bucket/prefix``: S3-compatible object storage instead of the local folder.
    files_url: str | None = None
    files_s3_endpoint: str | None = var(None, url=HTTP)
    files_s3_region: str = var("us-east-1")
    files_s3_access_key_id: str | None = field(default=None, repr=False)
    files_s3_secret_access_key: str | None = field(default=None, repr=False)
    # -- language models ---------------------------------------------------------------------
    default_model: str | None = var(None)
    model_catalog_path: Path | None = None
    offline_token_delay_ms: int = var(15, minimum=0, maximum=10_000)
    # -- knowledge (see README, "Knowledge"; unset URLs: the offline generator, no definitions) --
    paragraph_source_url: str | None = var(None, url=HTTP)
    paragraph_source_timeout: float = var(5.0, minimum=0.1)
    dictionary_api_url: str | None = var(None, url=HTTP)
    dictionary_timeout: float = var(5.0, minimum=0.1)
    dictionary_concurrency: int = var(5, minimum=1, maximum=50)
    # -- model providers (see README, "Language models") ---------------------------------------
    #: Each online provider's key and base URL by provider name, from ``<NAME>_API_KEY`` and
    #: ``<NAME>_BASE_URL`` (the providers are the rows of ``llm/provider_table.py``).
    llm_access: Mapping[str, ProviderAccess] = field(default_factory=dict, repr=False)
    #: ``OPENAI_COMPATIBLE_PROVIDERS``: more providers that speak OpenAI's API, name -> base URL.
    openai_compatible_providers: Mapping[str, str] = field(default_factory=dict, repr=False)
    llm_connect_timeout: float = var(5.0, minimum=0.1)
    llm_read_timeout: float = var(60.0, minimum=0.1)
    llm_total_timeout: float = var(300.0, minimum=1.0)
    llm_stream_idle_timeout: float = var(30.0, minimum=0.1)
    llm_retries: int = var(2, minimum=0, maximum=10)
    llm_retry_base_delay: float = 0.5
    llm_retry_max_delay: float = 8.0
    llm_fallbacks: FallbackChains = field(default_factory=FallbackChains)
    llm_breaker_min_calls: int = var(5, minimum=1)
    llm_breaker_failure_rate: float = var(0.5, minimum=0.01, maximum=1.0)
    llm_breaker_window_seconds: float = var(60.0, minimum=1.0)
    llm_breaker_reset_seconds: float = var(30.0, minimum=0.1)
    # -- chat and budgets (see README, "Chat" and "Usage and budgets") ----------------------
    max_message_chars: int = var(32_000, minimum=1, maximum=1_000_000)
    chat_context_tokens: int = var(DEFAULT_CONTEXT_TOKENS, minimum=MIN_CONTEXT_TOKENS, maximum=10_000_000)
    chat_context_summary: bool = var(True)
    reply_stream_ttl_seconds: float = var(120.0, minimum=1.0)
    reply_flush_interval_ms: int = var(500, minimum=10, maximum=60_000)
    reply_lease_seconds: float = var(30.0, minimum=2.0)
    reply_timeout_seconds: float = var(600.0, minimum=1.0)
    sse_heartbeat_seconds: float = var(15.0, minimum=0.1)
    grounding_passages: int = var(DEFAULT_PASSAGES, minimum=1, maximum=MAX_PASSAGES)
    grounding_excerpt_chars: int = var(DEFAULT_EXCERPT_CHARS, minimum=MIN_EXCERPT_CHARS, maximum=MAX_EXCERPT_CHARS)
    budget_free_monthly_usd: Decimal = Decimal("5")
    budget_pro_monthly_usd: Decimal = Decimal("50")
    # -- AI tools and safety (docs/AI.md) ----------------------------------------------------
    ai_tools_cache_ttl_seconds: float = var(86_400.0, minimum=1.0)
    ai_tools_cache_shared: bool = var(False)
    ai_tools_max_input_chars: int = var(32_000, minimum=100, maximum=1_000_000)
    prompt_injection_policy: Literal["off", "flag", "block"] = var("flag", choices=("off", "flag", "block"))
    pii_redaction: Literal["off", "output", "input", "both"] = var("off", choices=("off", "output", "input", "both"))
    moderate_chat: bool = var(False)
    # -- websocket chat ----------------------------------------------------------------------
    ws_max_connections_per_user: int = var(10, minimum=1)
    ws_auth_timeout_seconds: float = var(5.0, minimum=0.1)
    ws_send_queue_frames: int = var(512, minimum=16)
    # -- notifications and e-mail (see docs/NOTIFICATIONS.md; unset SMTP_URL: the console) -----
    notification_retention_days: int = var(90, minimum=1, maximum=3650)
    # -- admin console: the audit log (docs/OPERATIONS.md) -------------------------------------
    audit_retention_days: int = var(365, minimum=1, maximum=36500)
    smtp_url: str | None = var(None, url=("smtp", "smtps"), secret=True)  # may hold a password
    mail_from: str = "Parley <parley@localhost>"
    email_digest_minutes: int = var(15, minimum=1, maximum=1440)
    smtp_timeout: float = var(10.0, minimum=0.1)
    public_url: str = "http://127.0.0.1:8000"
    #: The built web app (``web/dist``); when it is missing Parley serves the API alone.
    web_dist_dir: Path = var(Path("web/dist"))  # noqa: RUF009 - a dataclass field (var wraps field())

    def provider_access(self, provider: str) -> ProviderAccess:
        """``provider``'s key and base URL (both ``None`` when its variables are not set)."""
        return self.llm_access.get(provider, NO_ACCESS)

    @property
    def llm_providers(self) -> tuple[ProviderEntry, ...]:
        """Every online provider Parley knows: the built-in ones, then the OpenAI-compatible ones."""
        return provider_entries(self.openai_compatible_providers)

    @property
    def configured_llm_providers(self) -> tuple[str, ...]:
        """The online providers Parley may call: each with its key, or (OpenAI at ``OPENAI_BASE_URL``, an
        OpenAI-compatible provider) with a base URL alone, for a server that needs no key. The offline
        one always is."""
        return tuple(
            entry.name
            for entry in self.llm_providers
            if entry.is_configured(self.provider_access(entry.name).api_key, self.provider_access(entry.name).base_url)
        )

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def database_backend(self) -> Literal["postgresql", "sqlite"]:
        return "postgresql" if self.database_url.startswith("postgresql") else "sqlite"

    def masked(self) -> dict[str, str]:
        """Every setting by its variable name, as text, with secrets and URL passwords masked."""
        shown: dict[str, str] = {}
        for f in fields(self):
            if f.name in _NOT_VARIABLES:
                continue
            value = getattr(self, f.name)
            if f.name == "llm_access":
                shown.update(self._masked_providers())
                continue
            if f.name == "openai_compatible_providers":
                shown["OPENAI_COMPATIBLE_PROVIDERS"] = ",".join(f"{n}={mask_url(u)}" for n, u in value.items())
                continue
            if f.name in _SECRETS:
                text = "****" if value else ""
            elif isinstance(value, tuple):
                text = ",".join(mask_url(item) if "://" in item else item for item in value)
            else:
                text = str(value)
                # Any URL (database, Redis, providers, OTLP, paragraph source, dictionary ...).
                if "://" in text:
                    text = mask_url(text)
            shown[variable_name(f)] = text
        return shown

    def _masked_providers(self) -> dict[str, str]:
        shown: dict[str, str] = {}
        for entry in self.llm_providers:
            access = self.provider_access(entry.name)
            shown[entry.key_variable] = "****" if access.api_key else ""
            shown[entry.base_url_variable] = mask_url(access.base_url) if access.base_url else ""
        return shown


_VARIABLE_NAMES = {"var_dir": "PARLEY_VAR_DIR"}


def variable_name(setting: Field[Any]) -> str:
    """The environment variable a setting is read from."""
    spec: Variable | None = setting.metadata.get("variable")
    return (spec.name if spec is not None else None) or _VARIABLE_NAMES.get(setting.name, setting.name.upper())


_NOT_VARIABLES = frozenset({"secret_key_generated"})
_SECRETS = frozenset(
    {
        "secret_key",
        "metrics_token",
        "admin_password",
        "files_s3_access_key_id",
        "files_s3_secret_access_key",
    }
)


def _check_admin_password(password: str, email: str) -> None:
    from src.domain.identity.errors import WeakPassword
    from src.domain.identity.passwords import check_password_policy
    from src.infrastructure.security.common_passwords import CommonPasswordList

    try:
        check_password_policy(password, email=email, common_passwords=CommonPasswordList())
    except WeakPassword as exc:
        raise ConfigError("ADMIN_PASSWORD", f"is refused by the password policy: {exc.detail}") from None


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    env_file: str | os.PathLike[str] | None = ".env",
) -> Settings:
    """Build settings from ``environ`` (default: the process environment) over an optional ``.env``.

    Real environment variables win over the file. Raises ``ConfigError`` on the first bad variable.
    """
    source: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        source.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    source.update(os.environ if environ is None else environ)
    env = _Reader(source)

    app_env = env.choice("APP_ENV", APP_ENVS, "development")
    production = app_env == "production"
    var_dir = Path(env.text("PARLEY_VAR_DIR", "var"))

    database_url = env.url(
        "DATABASE_URL",
        aliases=_DATABASE_SCHEME_ALIASES,
        schemes=("postgresql+asyncpg", "sqlite+aiosqlite"),
        default=f"sqlite+aiosqlite:///{(var_dir / 'parley.db').as_posix()}",
    )
    redis_url = _redis_url(env)

    secret_key = env.text("SECRET_KEY", "")
    generated = False
    if not secret_key:
        if production:
            raise ConfigError("SECRET_KEY", "is required in production (at least 32 characters)")
        secret_key, generated = _development_secret(var_dir)
    elif len(secret_key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError("SECRET_KEY", f"is too short: use at least {MIN_SECRET_KEY_LENGTH} characters")

    log_format_default = "json" if production else "console"
    cors = tuple(o.strip() for o in env.text("CORS_ORIGINS", "").split(",") if o.strip())
    for origin in cors:
        if origin != "*" and not _is_http_url(origin):
            raise ConfigError("CORS_ORIGINS", f"has {origin!r}, which is not '*' or an http(s) origin")

    admin_email = env.raw("ADMIN_EMAIL")
    admin_password = env.raw("ADMIN_PASSWORD")
    if (admin_email is None) != (admin_password is None):
        missing = "ADMIN_PASSWORD" if admin_password is None else "ADMIN_EMAIL"
        raise ConfigError(missing, "must be set too when ADMIN_EMAIL or ADMIN_PASSWORD is set (both or neither)")
    if admin_email is not None:
        try:
            admin_email = normalise_email(admin_email)
        except InvalidEmail:
            raise ConfigError("ADMIN_EMAIL", f"is not an email address, got {admin_email!r}") from None
        # Checked here, like every setting: a password the API would refuse from anyone else must
        # stop every command at once with one line, not fail the server's start-up half-way.
        _check_admin_password(admin_password or "", admin_email)

    return Settings(
        **_declared(env),
        app_env=app_env,  # type: ignore[arg-type]
        database_url=database_url or "",
        redis_url=redis_url,
        secret_key=secret_key,
        log_format=env.choice("LOG_FORMAT", LOG_FORMATS, log_format_default),  # type: ignore[arg-type]
        cors_origins=cors,
        var_dir=var_dir,
        admin_email=admin_email,
        admin_password=admin_password,
        secret_key_generated=generated,
        **_file_settings(env, var_dir),
        model_catalog_path=_existing_file(env, "MODEL_CATALOG_PATH"),
        **_llm_settings(env),
        budget_free_monthly_usd=_dollars(env, "BUDGET_FREE_MONTHLY_USD", _DEFAULTS.budget_free_monthly_usd),
        budget_pro_monthly_usd=_dollars(env, "BUDGET_PRO_MONTHLY_USD", _DEFAULTS.budget_pro_monthly_usd),
        **_notification_settings(env),
    )


#: The declared defaults, for the settings read by hand.
_DEFAULTS = Settings()


def _declared(env: _Reader) -> dict[str, Any]:
    """Every setting declared with ``var``, read by its type, default and limits."""
    values: dict[str, Any] = {}
    for setting in fields(Settings):
        spec: Variable | None = setting.metadata.get("variable")
        if spec is None:
            continue
        name, default = variable_name(setting), setting.default
        value: Any
        if spec.url:
            value = env.url(name, schemes=spec.url, default=None)
        elif spec.choices:
            value = env.choice(name, spec.choices, str(default), upper=spec.upper)
        elif isinstance(default, bool):
            value = env.boolean(name, default)
        elif isinstance(default, int):
            value = env.integer(name, default, minimum=_whole(spec.minimum), maximum=_whole(spec.maximum))
        elif isinstance(default, float):
            value = env.number(name, default, minimum=spec.minimum, maximum=spec.maximum)
        elif isinstance(default, Path):
            value = Path(env.text(name, default.as_posix()))
        elif default is None:
            value = env.raw(name)
        else:
            value = env.text(name, str(default))
        values[setting.name] = value
    return values


def _whole(limit: float | None) -> int | None:
    return None if limit is None else int(limit)


def _file_settings(env: _Reader, var_dir: Path) -> dict[str, Any]:
    """Uploaded files: a local folder, or S3-compatible object storage when FILES_URL is set."""
    files_url = env.raw("FILES_URL")
    if files_url is not None:
        scheme, _, rest = files_url.partition("://")
        bucket = rest.split("/", 1)[0]
        if scheme != "s3" or not bucket:
            raise ConfigError("FILES_URL", f"must be s3://bucket or s3://bucket/prefix, got {files_url!r}")
    key_id = env.raw("FILES_S3_ACCESS_KEY_ID")
    secret = env.raw("FILES_S3_SECRET_ACCESS_KEY")
    if (key_id is None) != (secret is None):
        missing = "FILES_S3_SECRET_ACCESS_KEY" if secret is None else "FILES_S3_ACCESS_KEY_ID"
        raise ConfigError(missing, "must be set too: the S3 access key id and secret go together")
    return {
        "files_dir": Path(env.text("FILES_DIR", (var_dir / "files").as_posix())),
        "files_url": files_url.rstrip("/") if files_url else None,
        "files_s3_access_key_id": key_id,
        "files_s3_secret_access_key": secret,
    }


def _notification_settings(env: _Reader) -> dict[str, Any]:
    """The sender of e-mail, and the address its links point at (default: HOST and PORT)."""
    mail_from = env.text("MAIL_FROM", "Parley <parley@localhost>")
    if "@" not in mail_from:
        raise ConfigError(
            "MAIL_FROM", f"must hold an e-mail address such as 'Parley <parley@example.com>', got {mail_from!r}"
        )
    public_url = env.url("PUBLIC_URL", schemes=("http", "https"), default=None)
    if public_url is None:
        public_url = f"http://{env.text('HOST', '127.0.0.1')}:{env.text('PORT', '8000')}"
    return {"mail_from": mail_from, "public_url": public_url.rstrip("/")}


def _openai_compatible_providers(env: _Reader) -> dict[str, str]:
    """``OPENAI_COMPATIBLE_PROVIDERS``: ``name=base_url`` pairs, separated by commas or spaces."""
    variable = "OPENAI_COMPATIBLE_PROVIDERS"
    providers: dict[str, str] = {}
    for item in (env.raw(variable) or "").replace(",", " ").split():
        name, equals, url = item.partition("=")
        if not equals or not PROVIDER_NAME.fullmatch(name):
            raise ConfigError(
                variable,
                f"has {item!r}: write name=base_url pairs, the name in lower case letters, digits and _ "
                "(e.g. 'mistral=https://api.mistral.ai/v1')",
            )
        if name in reserved_names() or name in providers:
            raise ConfigError(variable, f"names {name!r} twice or a provider Parley already has")
        if not _is_http_url(url):
            raise ConfigError(variable, f"gives {name!r} the base URL {mask_url(url)!r}, which is not an http(s) URL")
        providers[name] = url
    return providers


def _llm_settings(env: _Reader) -> dict[str, Any]:
    """The model providers, the fallback chains and the retries' delays (the ids in LLM_FALLBACKS are
    checked against the catalog when the container is built)."""
    base_delay = env.number("LLM_RETRY_BASE_DELAY", _DEFAULTS.llm_retry_base_delay, minimum=0.0)
    max_delay = env.number("LLM_RETRY_MAX_DELAY", max(_DEFAULTS.llm_retry_max_delay, base_delay), minimum=0.0)
    if max_delay < base_delay:
        raise ConfigError(
            "LLM_RETRY_MAX_DELAY", f"must be at least LLM_RETRY_BASE_DELAY ({base_delay:g}), got {max_delay:g}"
        )
    fallbacks = env.raw("LLM_FALLBACKS")
    try:
        chains = FallbackChains.parse(fallbacks) if fallbacks else FallbackChains()
    except ValueError as exc:
        example = "openai/gpt-4.1-mini -> groq/llama-3.3-70b-versatile"
        raise ConfigError("LLM_FALLBACKS", f"{exc} (write e.g. '{example}')") from None
    compatible = _openai_compatible_providers(env)
    access = {
        entry.name: ProviderAccess(
            api_key=env.raw(entry.key_variable),
            base_url=env.url(entry.base_url_variable, schemes=("http", "https"), default=None)
            or entry.default_base_url,
        )
        for entry in provider_entries(compatible)
    }
    return {
        "llm_access": access,
        "openai_compatible_providers": compatible,
        "llm_retry_base_delay": base_delay,
        "llm_retry_max_delay": max_delay,
        "llm_fallbacks": chains,
    }


def _dollars(env: _Reader, name: str, default: Decimal) -> Decimal:
    """A monthly amount in US dollars (``12.50``), zero or more."""
    value = env.raw(name) or str(default)
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ConfigError(name, f"must be an amount in dollars such as 12.50, got {value!r}") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_MONTHLY_BUDGET_USD:
        raise ConfigError(name, f"must be between 0 and {MAX_MONTHLY_BUDGET_USD} dollars, got {value!r}")
    return amount


def _existing_file(env: _Reader, name: str) -> Path | None:
    value = env.raw(name)
    if value is None:
        return None
    path = Path(value)
    if not path.is_file():
        raise ConfigError(name, f"names {value!r}, which is not a readable file")
    return path


# Common spellings of the two database URLs, mapped to the async drivers Parley uses.
_DATABASE_SCHEME_ALIASES = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


def _development_secret(var_dir: Path) -> tuple[str, bool]:
    """Read or create ``var/secret_key`` so that development tokens survive restarts."""
    path = var_dir / SECRET_KEY_FILE
    try:
        if path.is_file():
            existing = path.read_text(encoding="utf-8").strip()
            if len(existing) >= MIN_SECRET_KEY_LENGTH:
                return existing, False
        var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # Created with 0600 so other users of the machine cannot read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
    except OSError as exc:
        raise ConfigError("SECRET_KEY", f"is not set and {path} cannot be written ({exc.strerror})") from exc
    return key, True


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


class _Reader:
    def __init__(self, source: Mapping[str, str]) -> None:
        self._source = source

    def raw(self, name: str) -> str | None:
        value = self._source.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def text(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def _parse(self, name: str, default: _T, convert: Callable[[str], _T], expected: str) -> _T:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return convert(value)
        except ValueError:
            raise ConfigError(name, f"must be {expected}, got {value!r}") from None

    def integer(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        number = self._parse(name, default, int, "a whole number")
        _check_range(name, number, minimum, maximum)
        return number

    def number(self, name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
        number = self._parse(name, default, float, "a number")
        _check_range(name, number, minimum, maximum)
        return number

    def boolean(self, name: str, default: bool) -> bool:
        def convert(value: str) -> bool:
            lowered = value.lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(value)

        return self._parse(name, default, convert, "true or false")

    def choice(self, name: str, allowed: tuple[str, ...], default: str, *, upper: bool = False) -> str:
        value = self.raw(name)
        if value is None:
            return default
        value = value.upper() if upper else value.lower()
        if value not in allowed:
            raise ConfigError(name, f"must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def url(
        self,
        name: str,
        *,
        schemes: tuple[str, ...],
        default: str | None,
        aliases: Mapping[str, str] | None = None,
    ) -> str | None:
        value = self.raw(name)
        if value is None:
            return default
        scheme, sep, rest = value.partition("://")
        if sep and aliases and scheme in aliases:
            value = f"{aliases[scheme]}://{rest}"
        try:
            parts = urlsplit(value)
            _ = parts.port  # raises ValueError on a non-numeric port
        except ValueError as exc:
            raise ConfigError(name, f"is not a valid URL ({exc})") from None
        if parts.scheme not in schemes:
            raise ConfigError(name, f"must start with {' or '.join(s + '://' for s in schemes)}")
        if parts.scheme.startswith("sqlite"):
            if not parts.path or parts.path == "/":
                raise ConfigError(name, "must name a database file, e.g. sqlite+aiosqlite:///var/parley.db")
        elif parts.scheme != "unix" and not parts.hostname:
            raise ConfigError(name, "has no host")
        return value


def _redis_url(env: _Reader) -> str | None:
    """REDIS_URL: one server (redis://, rediss://, unix://) or a Sentinel-watched service."""
    value = env.raw("REDIS_URL")
    if value is not None and is_sentinel_url(value):
        try:
            parse_sentinel_url(value)
        except SentinelUrlError as exc:
            raise ConfigError("REDIS_URL", str(exc)) from None
        return value
    return env.url("REDIS_URL", schemes=("redis", "rediss", "unix", *SENTINEL_SCHEMES), default=None)


def _check_range(name: str, value: Any, minimum: Any, maximum: Any) -> None:
    if minimum is not None and value < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(name, f"must be at most {maximum}, got {value}")
