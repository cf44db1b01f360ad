"""The CLI's composition: a container whose parts are built on first use.

``build_container`` builds every adapter of every context (Redis, SAQ, tracing, the provider SDKs,
realtime buses) and costs about two seconds of CPU to import and build. A ``parley`` command uses
a handful of use cases: ``CliContainer`` builds only those, and only the adapters they need, from
the same settings and the same builders (wiring/adapters.py), so a command answers as the API
would and starts in a fraction of the time. Nothing here is imported before it is used: importing
this module loads no database driver, Redis client or SDK.

Changes that must reach every API instance (a user's access state, their live events) still do:
with ``REDIS_URL`` set, the access-state cache and the user events go through Redis and pub/sub,
exactly as in the full container. Commands that need the whole application (the terminal chat,
the AI tools, running jobs) build the full container instead (``build_container(role="cli")``).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from src.infrastructure.clock import SystemClock
from src.infrastructure.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from src.application.chat.export_conversation import ExportConversation
    from src.application.identity.access_state import UserAccessStates
    from src.application.identity.get_user import GetUser
    from src.application.identity.list_users import ListUsers
    from src.application.identity.register_user import RegisterUser
    from src.application.identity.reset_password import ResetPassword
    from src.application.identity.update_user import UpdateUser
    from src.application.knowledge.create_article import CreateArticle
    from src.application.knowledge.dictionary import TopWordsDefinitions
    from src.application.knowledge.fetch_paragraph import FetchParagraph
    from src.application.knowledge.get_dictionary import GetDictionary
    from src.application.knowledge.search_paragraphs import SearchParagraphs
    from src.application.llm.check_providers import CheckProviders
    from src.application.llm.list_models import ListModels
    from src.application.shared.ports import Cache
    from src.application.usage.get_usage import GetUsage
    from src.application.usage.get_user_budget import GetUserBudget
    from src.application.usage.set_user_budget import SetUserBudget
    from src.domain.usage.model import TierBudgets
    from src.infrastructure.external.dictionary import HttpDictionary, OfflineDictionary
    from src.infrastructure.external.paragraph_source import HttpParagraphSource, OfflineParagraphSource
    from src.infrastructure.llm.catalog import FileModelCatalog
    from src.infrastructure.llm.providers import ProviderModel
    from src.infrastructure.persistence.database import EngineDatabase
    from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory
    from src.infrastructure.queue.saq_failed_jobs import SaqFailedJobs
    from src.infrastructure.realtime.pubsub import PubSubHub
    from src.infrastructure.realtime.user_events import PubSubUserEvents
    from src.infrastructure.resilience import CircuitBreaker
    from src.infrastructure.security.common_passwords import CommonPasswordList
    from src.infrastructure.security.passwords import Argon2PasswordHasher
    from src.infrastructure.wiring.audit_moderation import AuditModerationServices
    from src.infrastructure.wiring.notifications import NotificationServices


def build_list_models(settings: Settings) -> ListModels:
    """``ListModels`` over the catalog the container would build: no database, no provider adapter."""
    from src.application.llm.list_models import ListModels
    from src.infrastructure.llm.catalog_loading import build_model_catalog, configured_provider_names

    return ListModels(build_model_catalog(settings, configured_provider_names(settings)))


class _CliGroup:
    """A group of the CLI's use cases, built from the container's parts on first use."""

    def __init__(self, parts: CliContainer) -> None:
        self._parts = parts


class CliIdentityUseCases(_CliGroup):
    """``use_cases.identity``: accounts."""

    @cached_property
    def register_user(self) -> RegisterUser:
        from src.application.identity.register_user import RegisterUser
        from src.domain.identity.model import Role

        p = self._parts
        default_role = Role(p.settings.identity.default_role)
        return RegisterUser(p.uow, p.password_hasher, p.clock, p.common_passwords, default_role=default_role)

    @cached_property
    def list_users(self) -> ListUsers:
        from src.application.identity.list_users import ListUsers

        return ListUsers(self._parts.uow)

    @cached_property
    def get_user(self) -> GetUser:
        from src.application.identity.get_user import GetUser

        return GetUser(self._parts.uow)

    @cached_property
    def update_user(self) -> UpdateUser:
        from src.application.identity.update_user import UpdateUser

        p = self._parts
        return UpdateUser(p.uow, p.clock, p.access_states)

    @cached_property
    def reset_password(self) -> ResetPassword:
        from src.application.identity.reset_password import ResetPassword

        p = self._parts
        return ResetPassword(p.uow, p.password_hasher, p.clock, p.common_passwords, p.access_states)


class CliChatUseCases(_CliGroup):
    """``use_cases.chat``: conversations."""

    @cached_property
    def export_conversation(self) -> ExportConversation:
        from src.application.chat.export_conversation import ExportConversation

        return ExportConversation(self._parts.uow, self._parts.clock)


class CliUsageUseCases(_CliGroup):
    """``use_cases.usage``: spending and budgets."""

    @cached_property
    def get_usage(self) -> GetUsage:
        from src.application.usage.get_usage import GetUsage

        p = self._parts
        return GetUsage(p.uow, p.tier_budgets, p.clock)

    @cached_property
    def get_user_budget(self) -> GetUserBudget:
        from src.application.usage.get_user_budget import GetUserBudget

        p = self._parts
        return GetUserBudget(p.uow, p.tier_budgets, p.clock)

    @cached_property
    def set_user_budget(self) -> SetUserBudget:
        from src.application.usage.set_user_budget import SetUserBudget

        p = self._parts
        return SetUserBudget(p.uow, p.tier_budgets, p.clock)


class CliKnowledgeUseCases(_CliGroup):
    """``use_cases.knowledge``: paragraphs, the dictionary, articles."""

    @cached_property
    def fetch_paragraph(self) -> FetchParagraph:
        from src.application.knowledge.fetch_paragraph import FetchParagraph

        p = self._parts
        return FetchParagraph(p.uow, p.paragraph_source, p.clock, p.dictionary_levels)

    @cached_property
    def search_paragraphs(self) -> SearchParagraphs:
        from src.application.knowledge.search_paragraphs import SearchParagraphs

        return SearchParagraphs(self._parts.uow)

    @cached_property
    def get_dictionary(self) -> GetDictionary:
        from src.application.knowledge.get_dictionary import GetDictionary

        return GetDictionary(self._parts.dictionary_levels)

    @cached_property
    def create_article(self) -> CreateArticle:
        from src.application.knowledge.create_article import CreateArticle

        return CreateArticle(self._parts.uow, self._parts.clock)


class CliLlmUseCases(_CliGroup):
    """``use_cases.llm``: the models and their providers."""

    @cached_property
    def list_models(self) -> ListModels:
        from src.application.llm.list_models import ListModels

        return ListModels(self._parts.model_catalog)

    @cached_property
    def check_providers(self) -> CheckProviders:
        from src.application.llm.check_providers import CheckProviders

        p = self._parts
        return CheckProviders(p.llm_providers, p.model_catalog, p.clock)


class CliUseCases:
    """The use cases ``parley`` commands run, grouped as in ``container.UseCases``; each is built
    when a command first asks for it, with the same collaborators as the full container's."""

    def __init__(self, parts: CliContainer) -> None:
        self.identity = CliIdentityUseCases(parts)
        self.chat = CliChatUseCases(parts)
        self.usage = CliUsageUseCases(parts)
        self.knowledge = CliKnowledgeUseCases(parts)
        self.llm = CliLlmUseCases(parts)


class CliContainer:
    """The parts of ``container.Container`` a CLI command uses, under the same names, each built on
    first use; ``shutdown`` closes what was built, in the full container's order."""

    role = "cli"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = SystemClock()
        self.use_cases = CliUseCases(self)

    # -- database ------------------------------------------------------------------------------
    @cached_property
    def database(self) -> EngineDatabase:
        """The API's engine and sessions on SQLAlchemy alone (no advanced-alchemy, no Litestar)."""
        from src.infrastructure.persistence.database import build_engine_database

        return build_engine_database(self.settings)

    @cached_property
    def uow(self) -> SqlAlchemyUnitOfWorkFactory:
        from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory

        return SqlAlchemyUnitOfWorkFactory.for_database(self.database, self.clock)

    # -- Redis (only with REDIS_URL), cache, realtime ------------------------------------------
    @cached_property
    def redis(self) -> Redis | None:
        from src.infrastructure.wiring.adapters import redis_client

        return redis_client(self.settings) if self.settings.redis.url else None

    @cached_property
    def redis_breaker(self) -> CircuitBreaker:
        from src.infrastructure.wiring.adapters import build_redis_breaker

        return build_redis_breaker(self.settings)

    @cached_property
    def cache(self) -> Cache:
        from src.infrastructure.wiring.adapters import build_cache

        return build_cache(self.settings, self.redis, self.redis_breaker)

    @cached_property
    def pubsub(self) -> PubSubHub | None:
        from src.infrastructure.wiring.adapters import build_pubsub

        return build_pubsub(self.settings, self.redis_breaker)

    @cached_property
    def user_events(self) -> PubSubUserEvents:
        from src.infrastructure.realtime.user_events import PubSubUserEvents

        return PubSubUserEvents(self.pubsub)

    @cached_property
    def access_states(self) -> UserAccessStates:
        from src.infrastructure.cache.stats import PrometheusCacheStats
        from src.infrastructure.wiring.adapters import build_access_cache, build_access_states

        # Not started (only the API listens): a change made here is published to every instance.
        access_cache = build_access_cache(self.cache, self.pubsub)
        return build_access_states(
            self.settings,
            self.uow,
            access_cache or self.cache,
            user_events=self.user_events,
            stats=PrometheusCacheStats(),
            clock=self.clock,
        )

    # -- identity ------------------------------------------------------------------------------
    @cached_property
    def password_hasher(self) -> Argon2PasswordHasher:
        from src.infrastructure.security.passwords import Argon2PasswordHasher

        return Argon2PasswordHasher()

    @cached_property
    def common_passwords(self) -> CommonPasswordList:
        from src.infrastructure.security.common_passwords import CommonPasswordList

        return CommonPasswordList()

    # -- usage, knowledge, llm, notifications --------------------------------------------------
    @cached_property
    def tier_budgets(self) -> TierBudgets:
        from src.infrastructure.wiring.adapters import build_tier_budgets

        return build_tier_budgets(self.settings)

    @cached_property
    def paragraph_source(self) -> HttpParagraphSource | OfflineParagraphSource:
        from src.infrastructure.wiring.adapters import build_paragraph_source

        return build_paragraph_source(self.settings)

    @cached_property
    def dictionary(self) -> HttpDictionary | OfflineDictionary:
        from src.infrastructure.wiring.adapters import build_dictionary

        return build_dictionary(self.settings)

    @cached_property
    def dictionary_levels(self) -> TopWordsDefinitions:
        from src.infrastructure.wiring.adapters import build_dictionary_levels

        return build_dictionary_levels(self.settings, self.uow, self.cache, self.dictionary)

    @cached_property
    def llm_providers(self) -> dict[str, ProviderModel]:
        """Each configured provider's adapter: only configured providers' SDKs are imported."""
        from src.infrastructure.llm.providers import build_llm_providers

        return build_llm_providers(self.settings, self.clock)

    @cached_property
    def model_catalog(self) -> FileModelCatalog:
        from src.infrastructure.llm.catalog_loading import build_model_catalog, configured_provider_names

        return build_model_catalog(self.settings, configured_provider_names(self.settings))

    @cached_property
    def notifications(self) -> NotificationServices:
        from src.infrastructure.wiring.notifications import build_notifications

        return build_notifications(self.settings, self.uow, self.clock, self.user_events, self.tier_budgets)

    @cached_property
    def audit_moderation(self) -> AuditModerationServices:
        """The audit log and moderation queue (``parley audit``); excerpts masked as the API masks them."""
        from src.application.ai.safety import PiiScanner
        from src.infrastructure.ai.pii_recognizers import NationalIdRecognizer, PhoneNumberRecognizer
        from src.infrastructure.wiring.audit_moderation import build_audit_moderation

        pii = PiiScanner([PhoneNumberRecognizer(), NationalIdRecognizer()])
        return build_audit_moderation(self.settings, self.uow, self.clock, mask_excerpt=pii.mask)

    async def failed_jobs(self) -> SaqFailedJobs | None:
        """Failed SAQ jobs (``None`` without Redis), on a connected queue."""
        if not self.settings.redis.url:
            return None
        if "_failed_jobs" not in self.__dict__:
            from src.infrastructure.queue.saq_failed_jobs import SaqFailedJobs
            from src.infrastructure.queue.saq_queue import build_saq_queue
            from src.infrastructure.wiring.adapters import redis_client

            queue = build_saq_queue(redis_client(self.settings))
            self.__dict__["_saq_queue"] = queue
            await queue.connect()
            self.__dict__["_failed_jobs"] = SaqFailedJobs(queue)
        jobs: SaqFailedJobs = self.__dict__["_failed_jobs"]
        return jobs

    # -- lifecycle -----------------------------------------------------------------------------
    async def startup(self) -> None:
        """Nothing opens before it is used."""

    async def shutdown(self) -> None:
        """Close what was built, in the full container's order; one failing close never skips the others."""
        built = self.__dict__
        if built.get("pubsub") is not None:
            await _close("pubsub", built["pubsub"].stop())
        for name in ("paragraph_source", "dictionary"):
            if name in built:
                await _close(name, built[name].aclose())
        for name, provider in built.get("llm_providers", {}).items():
            await _close(f"llm_{name}", provider.aclose())
        if "_saq_queue" in built:
            await _close("saq_queue", built["_saq_queue"].disconnect())
        if built.get("redis") is not None:
            await _close("redis", built["redis"].aclose())
        if "database" in built:
            await _close("database", built["database"].get_engine().dispose())

    def built(self) -> list[str]:
        """The parts built so far (what a command used), for tests and debugging."""
        return sorted(k for k in self.__dict__ if k not in ("settings", "clock", "use_cases"))


async def _close(name: str, closing: Any) -> None:
    from src.infrastructure.logging import get_logger

    try:
        await closing
    except Exception as exc:  # noqa: BLE001 - shutting down: note it and close the rest
        get_logger("parley.cli").warning("close_failed", resource=name, error=f"{type(exc).__name__}: {exc}")
