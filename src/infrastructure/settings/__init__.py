"""Settings: read the environment (and an optional ``.env``) once, validate, fail fast.

``Settings`` is one frozen group of settings per concern (``settings.database.url``,
``settings.llm.retries``, ...), each group in its own module here; ``reading.py`` holds how a setting is
declared (``var``: its variable, default and limits, once) and read. See docs/ARCHITECTURE.md,
"Adding things", for a new setting.
"""

from src.infrastructure.settings.admin import AdminSettings
from src.infrastructure.settings.ai import AiSettings
from src.infrastructure.settings.chat import ChatSettings
from src.infrastructure.settings.database import DatabaseSettings
from src.infrastructure.settings.files import FileSettings
from src.infrastructure.settings.identity import IdentitySettings
from src.infrastructure.settings.jobs import JobSettings
from src.infrastructure.settings.knowledge import KnowledgeSettings
from src.infrastructure.settings.llm import LlmSettings
from src.infrastructure.settings.notifications import NotificationSettings
from src.infrastructure.settings.observability import LogFormat, ObservabilitySettings
from src.infrastructure.settings.rate_limits import RateLimitSettings
from src.infrastructure.settings.reading import ConfigError
from src.infrastructure.settings.redis import RedisSettings
from src.infrastructure.settings.root import AppEnv, Settings, load_settings
from src.infrastructure.settings.server import ServerSettings
from src.infrastructure.settings.usage import UsageSettings

__all__ = [
    "AdminSettings",
    "AiSettings",
    "AppEnv",
    "ChatSettings",
    "ConfigError",
    "DatabaseSettings",
    "FileSettings",
    "IdentitySettings",
    "JobSettings",
    "KnowledgeSettings",
    "LlmSettings",
    "LogFormat",
    "NotificationSettings",
    "ObservabilitySettings",
    "RateLimitSettings",
    "RedisSettings",
    "ServerSettings",
    "Settings",
    "UsageSettings",
    "load_settings",
]
