"""``Settings``: every group of settings, and ``load_settings``, which reads them from the environment
(and an optional ``.env``) once, validates them and fails fast.

Every variable is documented in ``.env.example`` and docs/CONFIGURATION.md. Bad configuration raises
``ConfigError`` naming the variable and what is wrong; front doors print that one line and exit 2.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values

from src.infrastructure.settings.admin import AdminSettings
from src.infrastructure.settings.ai import AiSettings
from src.infrastructure.settings.chat import ChatSettings
from src.infrastructure.settings.database import DatabaseSettings, load_database
from src.infrastructure.settings.files import FileSettings, load_files
from src.infrastructure.settings.identity import IdentitySettings, load_identity
from src.infrastructure.settings.jobs import JobSettings
from src.infrastructure.settings.knowledge import KnowledgeSettings
from src.infrastructure.settings.llm import LlmSettings, load_llm
from src.infrastructure.settings.notifications import NotificationSettings, load_notifications
from src.infrastructure.settings.observability import ObservabilitySettings, load_observability
from src.infrastructure.settings.rate_limits import RateLimitSettings
from src.infrastructure.settings.reading import Reader, read_group, shown, var, variable_of
from src.infrastructure.settings.redis import RedisSettings, load_redis
from src.infrastructure.settings.server import ServerSettings, load_server
from src.infrastructure.settings.usage import UsageSettings, load_usage

AppEnv = Literal["development", "test", "production"]

APP_ENVS: tuple[str, ...] = ("development", "test", "production")


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting, in one group per concern. A group's fields each name their variable, default
    and limits once (``reading.var``); the process-wide ones are here."""

    app_env: AppEnv = var("APP_ENV", "development", choices=APP_ENVS)
    #: The folder for the SQLite file, the development secret and local files.
    var_dir: Path = var("PARLEY_VAR_DIR", Path("var"))
    #: Seconds ``/ready`` waits for each dependency.
    ready_timeout: float = var("READY_TIMEOUT", 2.0, minimum=0.1)
    #: Seconds a stopping process (API or worker) gives requests and jobs to finish.
    shutdown_timeout: float = var("SHUTDOWN_TIMEOUT", 4.0, minimum=0.0)
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    jobs: JobSettings = field(default_factory=JobSettings)
    rate_limits: RateLimitSettings = field(default_factory=RateLimitSettings)
    observability: ObservabilitySettings = field(default_factory=ObservabilitySettings)
    identity: IdentitySettings = field(default_factory=IdentitySettings)
    files: FileSettings = field(default_factory=FileSettings)
    llm: LlmSettings = field(default_factory=LlmSettings)
    knowledge: KnowledgeSettings = field(default_factory=KnowledgeSettings)
    chat: ChatSettings = field(default_factory=ChatSettings)
    usage: UsageSettings = field(default_factory=UsageSettings)
    ai: AiSettings = field(default_factory=AiSettings)
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    def groups(self) -> tuple[object, ...]:
        """Every group, in declaration order (the fields that are not a variable of their own)."""
        return tuple(getattr(self, f.name) for f in fields(self) if variable_of(f) is None)

    def masked(self) -> dict[str, str]:
        """Every setting by its variable name, as text, with secrets and URL passwords masked."""
        result = shown(self)
        for group in self.groups():
            result.update(shown(group))
        result.update(self.llm.shown_providers())
        return result


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
    env = Reader(source)
    process = read_group(Settings, env)
    production, var_dir = process.is_production, process.var_dir
    return replace(
        process,
        database=load_database(env, var_dir),
        redis=load_redis(env),
        identity=load_identity(env, production=production, var_dir=var_dir),
        server=load_server(env),
        observability=load_observability(env, production=production),
        jobs=read_group(JobSettings, env),
        rate_limits=read_group(RateLimitSettings, env),
        files=load_files(env, var_dir),
        llm=load_llm(env),
        knowledge=read_group(KnowledgeSettings, env),
        chat=read_group(ChatSettings, env),
        usage=load_usage(env),
        ai=read_group(AiSettings, env),
        notifications=load_notifications(env),
        admin=read_group(AdminSettings, env),
    )
