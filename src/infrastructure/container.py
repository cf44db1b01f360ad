"""The composition root: from settings, build every adapter and use case, once per process.

Every front door (HTTP, CLI, worker) builds a ``Container`` and nothing else constructs adapters.
Services that are not configured fall back to their embedded defaults: SQLite for the database,
and the in-process job runner when there is no Redis. Each context is wired by its own module in
``wiring/`` (one typed group each); ``build_container`` builds the shared adapters and composes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from advanced_alchemy.config import SQLAlchemyAsyncConfig
from opentelemetry.sdk.trace import TracerProvider
from redis.asyncio import Redis
from saq import Queue

from src.application.identity.access_state import UserAccessStates
from src.application.llm.ports import ChatModel, ModelCatalog
from src.application.shared.ports import Cache, CacheStats, Clock, RateLimiter, TaskQueue
from src.application.shared.prune_expired import PruneExpiredRecords
from src.application.shared.run_job_once import RunJobOnce
from src.application.unit_of_work import UnitOfWork
from src.domain.identity.model import Role as UserRole
from src.infrastructure.admin_bootstrap import bootstrap_admin
from src.infrastructure.cache.near_cache import NearCache
from src.infrastructure.cache.stats import PrometheusCacheStats
from src.infrastructure.clock import SystemClock
from src.infrastructure.external.dictionary import HttpDictionary, OfflineDictionary
from src.infrastructure.external.paragraph_source import HttpParagraphSource, OfflineParagraphSource
from src.infrastructure.llm.breakers import LocalProviderBreakers, SharedProviderBreakers
from src.infrastructure.llm.catalog_loading import build_model_catalog
from src.infrastructure.llm.providers import ProviderModel, build_llm_providers, build_provider_breakers
from src.infrastructure.logging import get_logger
from src.infrastructure.observability.metrics import METRICS
from src.infrastructure.observability.tracing import (
    JobTracer,
    build_tracer_provider,
    instrument_database,
    uninstrument_database,
)
from src.infrastructure.persistence.database import build_database_config
from src.infrastructure.persistence.reply_end import SqlReplyEnds
from src.infrastructure.persistence.scopes import import_every_repository
from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory
from src.infrastructure.queue.catalog import JobCatalog, JobSpec, build_job_catalog
from src.infrastructure.queue.in_process import InProcessTaskQueue
from src.infrastructure.queue.outbox_relay import OutboxRelayLoop
from src.infrastructure.queue.saq_failed_jobs import SaqFailedJobs
from src.infrastructure.rate_limit.policies import LOGIN, RateLimitPolicies, build_policies
from src.infrastructure.realtime.pubsub import PubSubHub
from src.infrastructure.resilience import CircuitBreaker
from src.infrastructure.settings import Settings
from src.infrastructure.wiring.adapters import (
    ACCESS_STATE_NEAR_TTL_SECONDS,
    REDIS_MAX_CONNECTIONS,
    build_access_cache,
    build_access_states,
    build_cache,
    build_dictionary,
    build_dictionary_levels,
    build_paragraph_source,
    build_pubsub,
    build_rate_limiter,
    build_redis_breaker,
    build_tier_budgets,
    redis_client,
)
from src.infrastructure.wiring.admin import AdminServices, build_admin
from src.infrastructure.wiring.ai import AiUseCases, build_ai
from src.infrastructure.wiring.audit_moderation import (
    AuditModerationServices,
    audit_moderation_jobs,
    build_audit_moderation,
)
from src.infrastructure.wiring.chat import (
    ChatRealtime,
    ChatUseCases,
    build_chat,
    build_realtime,
    recover_stale_replies_at_start,
    reply_settings,
    reply_starts,
)
from src.infrastructure.wiring.context import context_jobs
from src.infrastructure.wiring.events import build_event_dispatch
from src.infrastructure.wiring.gateway import GatewayUseCases, build_gateway
from src.infrastructure.wiring.identity import (
    Credentials,
    IdentityUseCases,
    build_credentials,
    build_identity,
    identity_expiring_records,
)
from src.infrastructure.wiring.knowledge import KnowledgeUseCases, build_knowledge
from src.infrastructure.wiring.llm import LlmUseCases, ModelAccess, build_llm, build_model_router
from src.infrastructure.wiring.notifications import NotificationServices, build_notifications, notification_jobs
from src.infrastructure.wiring.profiles import ProfileServices, build_profiles
from src.infrastructure.wiring.system import SystemUseCases, build_job_runners, build_system
from src.infrastructure.wiring.usage import UsageUseCases, build_ai_requests, build_usage

logger = get_logger("parley.container")

Role = Literal["api", "worker", "cli"]

#: Re-exported: they moved to wiring/adapters.py, which the CLI's lean composition shares.
__all__ = [
    "ACCESS_STATE_NEAR_TTL_SECONDS",
    "REDIS_MAX_CONNECTIONS",
    "Container",
    "UseCases",
    "build_container",
    "build_dictionary",
    "build_paragraph_source",
    "redis_client",
]


@dataclass(frozen=True, slots=True)
class UseCases:
    """Every front door's use cases, one group per context (``use_cases.chat.send_message``)."""

    identity: IdentityUseCases
    knowledge: KnowledgeUseCases
    #: Conversations and replies (the WebSocket and ``parley chat`` use these too).
    chat: ChatUseCases
    usage: UsageUseCases
    #: The models and their providers.
    llm: LlmUseCases
    #: Readiness, pruning, jobs and the outbox relay.
    system: SystemUseCases


@dataclass(slots=True)
class Container:
    settings: Settings
    role: Role
    clock: Clock
    database: SQLAlchemyAsyncConfig
    #: Concrete: the outbox relay hooks its commits, and the admin's SQL readers use its sessions.
    uow: SqlAlchemyUnitOfWorkFactory
    redis: Redis | None
    jobs: JobCatalog
    task_queue: TaskQueue
    use_cases: UseCases
    #: One breaker for every Redis user (cache, rate limiter): when Redis fails, all fall back together.
    redis_breaker: CircuitBreaker
    #: Redis when configured (fail-soft, through ``redis_breaker``), else in-process memory.
    cache: Cache
    cache_stats: CacheStats
    #: Redis GCRA shared by every instance (per-process while Redis is down), else in-process memory.
    rate_limiter: RateLimiter
    rate_limit_policies: RateLimitPolicies
    #: Whether each user is active, their token version, role and tier, read through ``cache``.
    access_states: UserAccessStates
    #: Password hashing, access tokens, secrets and the common-passwords list (wiring/identity.py).
    credentials: Credentials
    #: The models Parley knows, their prices and limits, and which of them are available.
    model_catalog: ModelCatalog
    #: Every model of every provider behind one port: the router (retries, fallbacks, breakers).
    chat_model: ChatModel
    #: Each configured provider's own adapter (offline always), by provider name; the router's.
    #: Provider adapters, not bare ``ChatModel``s: the container closes them at shutdown.
    llm_providers: dict[str, ProviderModel]
    #: The router's breaker per model; concrete: the container reports their last successes at shutdown.
    llm_breakers: LocalProviderBreakers | SharedProviderBreakers
    #: Chat realtime: reply streams, user events, stop signals, reply tasks, WebSocket slots (wiring/chat.py).
    realtime: ChatRealtime
    #: The process's one Redis pub/sub connection (``None`` without Redis).
    pubsub: PubSubHub | None
    #: The OpenAI-compatible ``/v1`` front door's use cases (src/infrastructure/wiring/gateway.py).
    gateway: GatewayUseCases
    #: AI tools and safety scanners (src/infrastructure/wiring/ai.py).
    ai: AiUseCases
    #: The notifications context: inbox, preferences, mail, announcements (wiring/notifications.py).
    notifications: NotificationServices
    #: The admin console's audit log and moderation queue, and members' reports (wiring/audit_moderation.py).
    audit_moderation: AuditModerationServices
    #: Profiles: avatars and the file store they live in (wiring/profiles.py).
    profiles: ProfileServices
    #: Analytics, system status and this process's heartbeat (wiring/admin.py).
    admin: AdminServices
    saq_queue: Queue | None = None
    in_process_runner: InProcessTaskQueue | None = None
    #: Moves committed outbox messages to ``task_queue``; runs in the API and in each worker.
    outbox_relay: OutboxRelayLoop | None = None
    #: Failed SAQ jobs, listable and retryable (with Redis only).
    failed_jobs: SaqFailedJobs | None = None
    tracer_provider: TracerProvider | None = None
    #: Where paragraphs come from, and the dictionary service (offline stand-ins); closed at shutdown.
    paragraph_source: HttpParagraphSource | OfflineParagraphSource | None = None
    dictionary: HttpDictionary | OfflineDictionary | None = None
    #: Access states kept in each API process for a moment, dropped everywhere on change (with Redis).
    access_cache: NearCache | None = None
    _started: bool = field(default=False, init=False)

    def refresh_gauges(self) -> None:
        """Bring point-in-time gauges up to date just before metrics are read."""
        checked_out = getattr(self.database.get_engine().pool, "checkedout", None)
        if callable(checked_out):
            METRICS.db_pool_in_use.set(checked_out())

    async def startup(self) -> None:
        """Open what needs opening; called by each front door's lifespan."""
        if self._started:
            return
        if self.saq_queue is not None:
            await self.saq_queue.connect()
        # Workers run jobs through SAQ; only the API (and CLI) use the embedded runner.
        if self.in_process_runner is not None and self.role == "api":
            await self.in_process_runner.start()
        # The API and the workers relay the outbox (a CLI command's messages go out through them).
        if self.outbox_relay is not None and self.role in ("api", "worker"):
            await self.outbox_relay.start()
        if self.role == "api":
            # ADMIN_EMAIL/ADMIN_PASSWORD: the first admin, created once (nothing when the email exists).
            await bootstrap_admin(self.settings, self.uow, self.use_cases.identity.register_user)
        if self.access_cache is not None and self.role == "api":
            # Every authenticated request reads an access state: keep it here, hear changes at once.
            await self.access_cache.start()
        if self.role in ("api", "cli"):
            # Replies are generated here: hear stops requested on other instances.
            await self.realtime.stop_signals.start()
        if self.role == "api":
            await recover_stale_replies_at_start(self.use_cases.chat.recover_stale_replies)
        if self.role in ("api", "worker"):
            await self.admin.instances.start()  # the heartbeat the system status lists instances by
        self._started = True
        # A CLI command's output is its own lines; its start-up is only worth a debug line.
        log = logger.debug if self.role == "cli" else logger.info
        log(
            "container_started",
            role=self.role,
            database=self.settings.database.backend,
            redis=self.redis is not None,
            jobs="saq" if self.saq_queue is not None else "in_process",
        )

    async def shutdown(self) -> None:
        """Close everything in reverse order; one failing close never skips the others."""
        await _close_quietly("heartbeat", self.admin.instances.stop())
        # Replies under way finish (or are stored as interrupted) while the database is still open.
        await _close_quietly("replies", self.realtime.reply_tasks.drain(self.settings.shutdown_timeout / 2))
        await _close_quietly("chat_moderation", self.ai.chat_guard.drain())
        await _close_quietly("ai", self.ai.aclose())
        await _close_quietly("reply_streams", self.realtime.reply_streams.stop())
        await _close_quietly("connection_slots", self.realtime.connection_slots.stop())
        self.realtime.stop_signals.stop()
        if self.access_cache is not None:
            self.access_cache.stop()
        if self.pubsub is not None:
            await _close_quietly("pubsub", self.pubsub.stop())
        if self.outbox_relay is not None:
            await _close_quietly("outbox_relay", self.outbox_relay.stop())
        for name, client in (("paragraph_source", self.paragraph_source), ("dictionary", self.dictionary)):
            if client is not None:
                await _close_quietly(name, client.aclose())
        for name, provider in self.llm_providers.items():
            await _close_quietly(f"llm_{name}", provider.aclose())
        await _close_quietly("llm_breakers", self.llm_breakers.flush())  # before Redis is closed
        if self.in_process_runner is not None:
            await _close_quietly("job_runner", self.in_process_runner.stop(self.settings.shutdown_timeout / 2))
        if self.saq_queue is not None:
            await _close_quietly("saq_queue", self.saq_queue.disconnect())
        if self.redis is not None:
            await _close_quietly("redis", self.redis.aclose())
        await _close_quietly("database", self.database.get_engine().dispose())
        if self.tracer_provider is not None:
            # Flush spans still buffered; the exporter has its own short timeout.
            uninstrument_database()
            await _close_quietly("tracing", asyncio.to_thread(self.tracer_provider.shutdown))
        self._started = False


async def _close_quietly(name: str, closing: Awaitable[object]) -> None:
    try:
        await closing
    except Exception as exc:  # noqa: BLE001 - shutting down: note it and close the rest
        logger.warning("close_failed", resource=name, error=f"{type(exc).__name__}: {exc}")


def build_container(
    settings: Settings,
    *,
    role: Role = "api",
    extra_jobs: Sequence[JobSpec] = (),
    chat_model: ChatModel | None = None,
) -> Container:
    """``extra_jobs`` are catalogued beside Parley's own (tests register probe jobs this way);
    ``chat_model`` replaces the model router (tests script model failures this way)."""
    clock = SystemClock()
    database = build_database_config(settings)
    engine = database.get_engine()
    import_every_repository()  # loaded now rather than by the first request of each context
    uow = SqlAlchemyUnitOfWorkFactory.for_database(database, clock)
    tracer_provider = build_tracer_provider(settings, role=role)
    if tracer_provider is not None:
        instrument_database(engine, tracer_provider)

    # Shared adapters: Redis behind one breaker, cache, rate limiter, pub/sub, chat realtime, access states, router.
    redis = redis_client(settings) if settings.redis.url else None
    redis_breaker = build_redis_breaker(settings)
    cache = build_cache(settings, redis, redis_breaker)
    cache_stats = PrometheusCacheStats()
    rate_limiter = build_rate_limiter(settings, redis, redis_breaker)
    rate_limit_policies = build_policies(settings)
    pubsub = build_pubsub(settings, redis_breaker)
    realtime = build_realtime(settings, redis=redis, pubsub=pubsub, breaker=redis_breaker)
    access_cache = build_access_cache(cache, pubsub)
    access_states = build_access_states(
        settings, uow, access_cache or cache, user_events=realtime.user_events, stats=cache_stats, clock=clock
    )
    llm_providers = build_llm_providers(settings, clock)
    model_catalog = build_model_catalog(settings, [name for name in llm_providers if name != "offline"])
    llm_breakers = build_provider_breakers(settings, redis, redis_breaker)
    chat_model = chat_model or build_model_router(
        settings, providers=llm_providers, catalog=model_catalog, clock=clock, breakers=llm_breakers
    )
    tier_budgets = build_tier_budgets(settings)
    ai_requests = build_ai_requests(settings, rate_limiter, rate_limit_policies)
    models = ModelAccess(chat_model, model_catalog, ai_requests, tier_budgets)
    paragraph_source = build_paragraph_source(settings)
    dictionary = build_dictionary(settings)
    credentials = build_credentials(settings)

    # The contexts, each wired by its own module (src/infrastructure/wiring/).
    ai = build_ai(settings, uow=uow, models=models, cache=cache, clock=clock)
    identity = build_identity(
        uow=uow,
        clock=clock,
        credentials=credentials,
        access_states=access_states,
        rate_limiter=rate_limiter,
        login_policy=rate_limit_policies[LOGIN],
        refresh_ttl=timedelta(days=settings.identity.refresh_token_ttl_days),
        default_role=UserRole(settings.identity.default_role),
    )
    knowledge = build_knowledge(
        uow=uow,
        clock=clock,
        models=models,
        cache=cache,
        paragraph_source=paragraph_source,
        dictionary_levels=build_dictionary_levels(settings, uow, cache, dictionary),
    )
    chat = build_chat(
        uow=uow,
        clock=clock,
        models=models,
        streams=realtime.reply_streams,
        events=realtime.user_events,
        stops=realtime.stop_signals,
        tasks=realtime.reply_tasks,
        settings=reply_settings(settings),
        excerpt_chars=settings.chat.grounding_excerpt_chars,
        pii=ai.chat_pii,
        guard=ai.chat_guard,
        ends=SqlReplyEnds.for_engine(engine, uow.notify_outbox),
        starts=reply_starts(settings, engine),
    )
    notifications = build_notifications(settings, uow, clock, realtime.user_events, tier_budgets)
    audit_moderation = build_audit_moderation(settings, uow, clock, mask_excerpt=ai.pii.mask)

    # Jobs: the catalog, where they run, and the platform's own use cases.
    prune_expired = PruneExpiredRecords[UnitOfWork](uow, clock, expiring={**identity_expiring_records()})
    run_once = RunJobOnce(uow, clock)
    catalog = build_job_catalog(
        prune_expired=prune_expired,
        run_once=run_once,
        tracer=JobTracer(tracer_provider),
        extra_jobs=[
            *notification_jobs(notifications, build_event_dispatch(uow, clock, notifications)),
            *context_jobs(chat.summarize_conversation),
            *audit_moderation_jobs(audit_moderation),
            *extra_jobs,
        ],
        refresh_dictionary=knowledge.refresh_dictionary,
        title_conversation=chat.title_conversation,
        recover_stale_replies=chat.recover_stale_replies,
    )
    runners = build_job_runners(settings, role=role, uow=uow, clock=clock, catalog=catalog)

    return Container(
        settings=settings,
        role=role,
        clock=clock,
        database=database,
        uow=uow,
        redis=redis,
        jobs=catalog,
        task_queue=runners.task_queue,
        redis_breaker=redis_breaker,
        cache=cache,
        cache_stats=cache_stats,
        rate_limiter=rate_limiter,
        rate_limit_policies=rate_limit_policies,
        access_states=access_states,
        access_cache=access_cache,
        credentials=credentials,
        model_catalog=model_catalog,
        chat_model=chat_model,
        llm_breakers=llm_breakers,
        llm_providers=llm_providers,
        realtime=realtime,
        pubsub=pubsub,
        ai=ai,
        notifications=notifications,
        audit_moderation=audit_moderation,
        profiles=build_profiles(settings, uow, clock),
        admin=build_admin(
            settings,
            role=role,
            uow=uow,
            engine=engine,
            redis=redis,
            redis_breaker=redis_breaker,
            clock=clock,
            runners=runners,
            realtime=realtime,
            providers=list(llm_providers),
        ),
        gateway=build_gateway(settings, uow=uow, models=models, clock=clock, engine=engine),
        use_cases=UseCases(
            identity=identity,
            knowledge=knowledge,
            chat=chat,
            usage=build_usage(uow=uow, budgets=tier_budgets, clock=clock),
            llm=build_llm(providers=llm_providers, catalog=model_catalog, clock=clock),
            system=build_system(
                engine=engine,
                redis=redis,
                uow=uow,
                clock=clock,
                runners=runners,
                prune_expired=prune_expired,
                run_job_once=run_once,
            ),
        ),
        saq_queue=runners.saq_queue,
        in_process_runner=runners.in_process,
        outbox_relay=runners.outbox_relay,
        failed_jobs=runners.failed_jobs,
        tracer_provider=tracer_provider,
        paragraph_source=paragraph_source,
        dictionary=dictionary,
    )
