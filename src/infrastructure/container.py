"""The composition root: from settings, build every adapter and use case, once per process.

Every front door (HTTP, CLI, worker) builds a ``Container`` and nothing else constructs adapters.
Services that are not configured fall back to their embedded defaults: SQLite for the database,
and the in-process job runner when there is no Redis.
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
from saq.queue.redis import RedisQueue

from src.application.chat.create_conversation import CreateConversation
from src.application.chat.delete_conversation import DeleteConversation
from src.application.chat.export_conversation import ExportConversation
from src.application.chat.generation import ReplyGenerator
from src.application.chat.get_conversation import GetConversation
from src.application.chat.knowledge_retriever import KnowledgeBaseRetriever
from src.application.chat.list_conversations import ListConversations
from src.application.chat.list_messages import ListMessages
from src.application.chat.recover_stale_replies import RecoverStaleReplies
from src.application.chat.recovery import ReplyRecovery
from src.application.chat.regenerate_reply import RegenerateReply
from src.application.chat.replies import ReplyLauncher
from src.application.chat.resume_reply_stream import ResumeReplyStream
from src.application.chat.search_scope import MessageSearchScope
from src.application.chat.send_message import SendMessage
from src.application.chat.settings import ReplySettings
from src.application.chat.stop_reply import StopReply
from src.application.chat.summarize_conversation import SummarizeConversation
from src.application.chat.title_conversation import TitleConversation
from src.application.chat.update_conversation import UpdateConversation
from src.application.identity.access_state import UserAccessStates
from src.application.identity.admin_users import GetUser, ListUsers, ResetPassword, UpdateUser
from src.application.identity.api_keys import CreateApiKey, ListApiKeys, RevokeApiKey
from src.application.identity.authenticate import Authenticate
from src.application.identity.profile import ChangePassword, DeactivateAccount, GetProfile, UpdateProfile
from src.application.identity.refresh_session import RefreshSession
from src.application.identity.register_user import RegisterUser
from src.application.identity.sign_in import SignIn
from src.application.identity.sign_out import SignOut, SignOutEverywhere
from src.application.knowledge.articles import CreateArticle, DeleteArticle, GetArticle, ListArticles, UpdateArticle
from src.application.knowledge.dictionary import GetDictionary, RefreshDictionary
from src.application.knowledge.fetch_paragraph import FetchParagraph
from src.application.knowledge.search_everything import SearchEverything
from src.application.knowledge.search_paragraphs import SearchParagraphs
from src.application.knowledge.search_scopes import ArticleSearchScope, ParagraphSearchScope
from src.application.knowledge.summarize_article import SummarizeArticle
from src.application.llm.check_providers import CheckProviders
from src.application.llm.list_models import ListModels
from src.application.llm.ports import ChatModel
from src.application.llm.router import ModelRouter
from src.application.shared.check_readiness import CheckReadiness
from src.application.shared.ports import Cache, CacheStats, HealthProbe, RateLimiter, TaskQueue
from src.application.shared.prune_expired import PruneExpiredRecords
from src.application.shared.reconcile_outbox import ReconcileOutbox
from src.application.shared.relay_outbox import RelayOutbox
from src.application.shared.run_job_once import RunJobOnce
from src.application.unit_of_work import UnitOfWork
from src.application.usage.ai_requests import AiRequestLimiter
from src.application.usage.get_usage import GetUsage
from src.application.usage.set_user_budget import GetUserBudget, SetUserBudget
from src.domain.identity.model import Role as UserRole
from src.domain.identity.model import Tier
from src.infrastructure.admin_bootstrap import bootstrap_admin
from src.infrastructure.cache.near_cache import NearCache
from src.infrastructure.cache.stats import PrometheusCacheStats
from src.infrastructure.clock import SystemClock
from src.infrastructure.external.dictionary import HttpDictionary, OfflineDictionary
from src.infrastructure.external.paragraph_source import HttpParagraphSource, OfflineParagraphSource
from src.infrastructure.health import DatabaseProbe, JobsProbe, RedisProbe
from src.infrastructure.llm.catalog import FileModelCatalog
from src.infrastructure.llm.catalog_loading import build_model_catalog
from src.infrastructure.llm.metrics import PrometheusLlmMetrics
from src.infrastructure.llm.providers import (
    ProviderModel,
    build_llm_providers,
    build_provider_breakers,
    retry_policy,
)
from src.infrastructure.logging import get_logger
from src.infrastructure.observability.metrics import METRICS
from src.infrastructure.observability.tracing import (
    JobTracer,
    build_tracer_provider,
    instrument_database,
    uninstrument_database,
)
from src.infrastructure.persistence.database import build_database_config
from src.infrastructure.persistence.migrator import ExpectedSchema
from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory
from src.infrastructure.queue.catalog import JobCatalog, JobSpec, build_job_catalog
from src.infrastructure.queue.in_process import InProcessTaskQueue
from src.infrastructure.queue.outbox_relay import OutboxRelayLoop
from src.infrastructure.queue.saq_failed_jobs import SaqFailedJobs
from src.infrastructure.queue.saq_queue import SaqTaskQueue, build_saq_queue
from src.infrastructure.rate_limit.memory_limiter import MemoryRateLimiter
from src.infrastructure.rate_limit.policies import AI_FREE, AI_PRO, LOGIN, RateLimitPolicies, build_policies
from src.infrastructure.rate_limit.redis_limiter import RedisRateLimiter
from src.infrastructure.rate_limit.resilient import ResilientRateLimiter
from src.infrastructure.realtime.connection_slots import ConnectionSlots
from src.infrastructure.realtime.pubsub import PubSubHub
from src.infrastructure.realtime.reply_streams import MemoryReplyStreams, RedisReplyStreamStore
from src.infrastructure.realtime.reply_tasks import InProcessReplyTasks
from src.infrastructure.realtime.stop_signals import PubSubStopSignals
from src.infrastructure.realtime.user_events import PubSubUserEvents
from src.infrastructure.resilience import CircuitBreaker
from src.infrastructure.security.common_passwords import CommonPasswordList
from src.infrastructure.security.passwords import Argon2PasswordHasher
from src.infrastructure.security.secrets import HmacSecretGenerator
from src.infrastructure.security.tokens import JwtAccessTokenIssuer
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
from src.infrastructure.wiring.context import build_summarize_conversation, context_jobs
from src.infrastructure.wiring.events import build_event_dispatch
from src.infrastructure.wiring.gateway import GatewayUseCases, build_gateway
from src.infrastructure.wiring.notifications import NotificationServices, build_notifications, notification_jobs
from src.infrastructure.wiring.profiles import ProfileServices, build_profiles

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


@dataclass(slots=True)
class UseCases:
    check_readiness: CheckReadiness
    prune_expired: PruneExpiredRecords
    run_job_once: RunJobOnce
    relay_outbox: RelayOutbox
    # -- identity ------------------------------------------------------------------------------
    register_user: RegisterUser
    sign_in: SignIn
    refresh_session: RefreshSession
    sign_out: SignOut
    sign_out_everywhere: SignOutEverywhere
    authenticate: Authenticate
    get_profile: GetProfile
    update_profile: UpdateProfile
    change_password: ChangePassword
    deactivate_account: DeactivateAccount
    list_users: ListUsers
    get_user: GetUser
    update_user: UpdateUser
    reset_password: ResetPassword
    create_api_key: CreateApiKey
    list_api_keys: ListApiKeys
    revoke_api_key: RevokeApiKey
    # -- knowledge -----------------------------------------------------------------------------
    create_article: CreateArticle
    get_article: GetArticle
    list_articles: ListArticles
    update_article: UpdateArticle
    delete_article: DeleteArticle
    summarize_article: SummarizeArticle
    fetch_paragraph: FetchParagraph
    search_paragraphs: SearchParagraphs
    get_dictionary: GetDictionary
    refresh_dictionary: RefreshDictionary
    search_everything: SearchEverything[UnitOfWork]
    # -- chat and usage (the WebSocket and `parley chat` use these too) -------------------------
    create_conversation: CreateConversation
    list_conversations: ListConversations
    get_conversation: GetConversation
    update_conversation: UpdateConversation
    delete_conversation: DeleteConversation
    export_conversation: ExportConversation
    list_messages: ListMessages
    send_message: SendMessage
    regenerate_reply: RegenerateReply
    stop_reply: StopReply
    resume_reply_stream: ResumeReplyStream
    title_conversation: TitleConversation
    summarize_conversation: SummarizeConversation
    recover_stale_replies: RecoverStaleReplies
    get_usage: GetUsage
    get_user_budget: GetUserBudget
    set_user_budget: SetUserBudget
    # -- llm -----------------------------------------------------------------------------------
    list_models: ListModels
    check_providers: CheckProviders


@dataclass(slots=True)
class Container:
    settings: Settings
    role: Role
    clock: SystemClock
    database: SQLAlchemyAsyncConfig
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
    password_hasher: Argon2PasswordHasher
    access_tokens: JwtAccessTokenIssuer
    secrets: HmacSecretGenerator
    common_passwords: CommonPasswordList
    #: The models Parley knows, their prices and limits, and which of them are available.
    model_catalog: FileModelCatalog
    #: Every model of every provider behind one port: the router (retries, fallbacks, breakers).
    chat_model: ChatModel
    #: Each configured provider's own adapter (offline always), by provider name; the router's.
    llm_providers: dict[str, ProviderModel]
    #: Chat realtime ports (see src/application/chat/ports.py): every reply's events, readable from
    #: any event id on any instance (``ReplyStreamStore``) ...
    reply_streams: RedisReplyStreamStore
    #: ... per-user events fanned out to every instance (``UserEvents``) ...
    user_events: PubSubUserEvents
    #: ... "stop this reply" delivered to the instance generating it (``StopSignals``) ...
    stop_signals: PubSubStopSignals
    #: ... and the process-owned tasks generating replies (``ReplyTasks``), drained at shutdown.
    reply_tasks: InProcessReplyTasks
    #: The process's one Redis pub/sub connection (``None`` without Redis).
    pubsub: PubSubHub | None
    #: Open WebSockets per user, counted across instances (``WS_MAX_CONNECTIONS_PER_USER``).
    connection_slots: ConnectionSlots
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
    #: Where paragraphs come from, and the dictionary service (offline stand-ins when not configured).
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
            await bootstrap_admin(self.settings, self.uow, self.use_cases.register_user)
        if self.access_cache is not None and self.role == "api":
            # Every authenticated request reads an access state: keep it here, hear changes at once.
            await self.access_cache.start()
        if self.role in ("api", "cli"):
            # Replies are generated here: hear stops requested on other instances.
            await self.stop_signals.start()
        if self.role == "api":
            await _recover_stale_replies(self.use_cases.recover_stale_replies)
        if self.role in ("api", "worker"):
            await self.admin.instances.start()  # the heartbeat the system status lists instances by
        self._started = True
        # A CLI command's output is its own lines; its start-up is only worth a debug line.
        log = logger.debug if self.role == "cli" else logger.info
        log(
            "container_started",
            role=self.role,
            database=self.settings.database_backend,
            redis=self.redis is not None,
            jobs="saq" if self.saq_queue is not None else "in_process",
        )

    async def shutdown(self) -> None:
        """Close everything in reverse order; one failing close never skips the others."""
        await _close_quietly("heartbeat", self.admin.instances.stop())
        # Replies under way finish (or are stored as interrupted) while the database is still open.
        await _close_quietly("replies", self.reply_tasks.drain(self.settings.shutdown_timeout / 2))
        await _close_quietly("chat_moderation", self.ai.chat_guard.drain())
        await _close_quietly("ai", self.ai.aclose())
        await _close_quietly("reply_streams", self.reply_streams.stop())
        await _close_quietly("connection_slots", self.connection_slots.stop())
        self.stop_signals.stop()
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


async def _recover_stale_replies(recover: RecoverStaleReplies) -> None:
    """Finish the replies an instance left behind when it stopped (never fails the start)."""
    try:
        recovered = (await recover()).recovered
    except Exception as exc:  # noqa: BLE001 - e.g. a database not migrated yet: the job retries later
        logger.warning("stale_reply_recovery_failed", error=f"{type(exc).__name__}: {exc}")
        return
    if recovered:
        logger.info("stale_replies_recovered", replies=recovered)


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
    uow = SqlAlchemyUnitOfWorkFactory.for_database(database, clock)

    redis = redis_client(settings) if settings.redis_url else None
    redis_breaker = build_redis_breaker(settings)
    cache = build_cache(settings, redis, redis_breaker)
    rate_limiter: RateLimiter = (
        ResilientRateLimiter(
            RedisRateLimiter(redis), MemoryRateLimiter(), redis_breaker, timeout=settings.redis_timeout
        )
        if redis is not None
        else MemoryRateLimiter()
    )

    # Knowledge: the sources of paragraphs and definitions, and the dictionary's cache levels (the
    # job that refreshes them after each fetch is catalogued below).
    paragraph_source = build_paragraph_source(settings)
    dictionary = build_dictionary(settings)
    dictionary_levels = build_dictionary_levels(settings, uow, cache, dictionary)
    refresh_dictionary = RefreshDictionary(dictionary_levels)

    run_once = RunJobOnce(uow, clock)
    prune_expired = PruneExpiredRecords(uow, clock)
    tracer_provider = build_tracer_provider(settings, role=role)
    if tracer_provider is not None:
        instrument_database(database.get_engine(), tracer_provider)

    rate_limit_policies = build_policies(settings)
    cache_stats = PrometheusCacheStats()
    password_hasher = Argon2PasswordHasher()
    access_tokens = JwtAccessTokenIssuer(
        settings.secret_key,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(seconds=settings.access_token_ttl_seconds),
    )
    secrets = HmacSecretGenerator(settings.secret_key)
    common_passwords = CommonPasswordList()
    refresh_ttl = timedelta(days=settings.refresh_token_ttl_days)

    llm_providers = build_llm_providers(settings, clock)
    model_catalog = build_model_catalog(settings, [name for name in llm_providers if name != "offline"])
    chat_model = chat_model or ModelRouter(
        llm_providers,
        model_catalog,
        clock,
        breakers=build_provider_breakers(settings, redis, redis_breaker),
        metrics=PrometheusLlmMetrics(),
        retry=retry_policy(settings),
        fallbacks=settings.llm_fallbacks,
        total_timeout=settings.llm_total_timeout,
        unbreakable=("offline",),
    )

    # Chat: realtime ports (Redis pub/sub and streams when configured, else in-process) and the use
    # cases every front door shares.
    pubsub = build_pubsub(settings, redis_breaker)
    access_cache = build_access_cache(cache, pubsub)
    user_events = PubSubUserEvents(pubsub)
    access_states = build_access_states(
        settings, uow, access_cache or cache, user_events=user_events, stats=cache_stats, clock=clock
    )
    reply_streams = RedisReplyStreamStore(
        MemoryReplyStreams(
            ttl=settings.reply_stream_ttl_seconds,
            max_age=settings.reply_timeout_seconds + settings.reply_stream_ttl_seconds + 60,
        ),
        redis=redis,
        hub=pubsub,
        breaker=redis_breaker,
        ttl=settings.reply_stream_ttl_seconds,
        max_age=settings.reply_timeout_seconds + settings.reply_stream_ttl_seconds + 60,
        timeout=settings.redis_timeout,
    )
    stop_signals = PubSubStopSignals(pubsub)
    reply_tasks = InProcessReplyTasks()
    reply_settings = ReplySettings(
        max_message_chars=settings.max_message_chars,
        lease_seconds=settings.reply_lease_seconds,
        flush_interval_seconds=settings.reply_flush_interval_ms / 1000,
        timeout_seconds=settings.reply_timeout_seconds,
        grounding_passages=settings.grounding_passages,
        context_tokens=settings.chat_context_tokens,
        summarize=settings.chat_context_summary,
    )
    tier_budgets = build_tier_budgets(settings)
    # One allowance of AI requests per user and minute, whatever asks: replies, summaries.
    ai_requests = AiRequestLimiter(
        rate_limiter if settings.rate_limit_enabled else None,
        {Tier.FREE: rate_limit_policies[AI_FREE], Tier.PRO: rate_limit_policies[AI_PRO]},
        exempt_permission_holders=settings.rate_limit_exempt_admins,
    )
    ai = build_ai(
        settings,
        uow=uow,
        chat_model=chat_model,
        catalog=model_catalog,
        cache=cache,
        limiter=ai_requests,
        budgets=tier_budgets,
        clock=clock,
    )
    launcher = ReplyLauncher(
        uow=uow,
        generator=ReplyGenerator(
            uow, chat_model, model_catalog, reply_streams, stop_signals, user_events, clock, reply_settings
        ),
        catalog=model_catalog,
        streams=reply_streams,
        events=user_events,
        tasks=reply_tasks,
        limiter=ai_requests,
        budgets=tier_budgets,
        clock=clock,
        settings=reply_settings,
        retriever=KnowledgeBaseRetriever(excerpt_chars=settings.grounding_excerpt_chars),
        pii=ai.chat_pii,
        guard=ai.chat_guard,
    )
    title_conversation = TitleConversation(uow, chat_model, model_catalog, user_events, clock)
    summarize_conversation = build_summarize_conversation(
        settings, uow=uow, chat_model=chat_model, catalog=model_catalog, clock=clock
    )
    reply_recovery = ReplyRecovery(uow, model_catalog, reply_streams, clock)
    recover_stale_replies = RecoverStaleReplies(uow, reply_recovery, clock)
    notifications = build_notifications(settings, uow, clock, user_events, tier_budgets)
    dispatch_event = build_event_dispatch(uow, clock, notifications)
    audit_moderation = build_audit_moderation(settings, uow, clock, mask_excerpt=ai.pii.mask)

    catalog = build_job_catalog(
        prune_expired=prune_expired,
        run_once=run_once,
        tracer=JobTracer(tracer_provider),
        extra_jobs=[
            *notification_jobs(notifications, dispatch_event),
            *context_jobs(summarize_conversation),
            *audit_moderation_jobs(audit_moderation),
            *extra_jobs,
        ],
        refresh_dictionary=refresh_dictionary,
        title_conversation=title_conversation,
        recover_stale_replies=recover_stale_replies,
    )

    probes: list[HealthProbe] = [DatabaseProbe(database.get_engine(), ExpectedSchema.from_migrations())]
    if redis is not None:
        probes.append(RedisProbe(redis))

    saq_queue: RedisQueue | None = None
    in_process: InProcessTaskQueue | None = None
    task_queue: TaskQueue
    if settings.redis_url:
        saq_queue = build_saq_queue(redis_client(settings, blocking=role == "worker"))
        task_queue = SaqTaskQueue(saq_queue, catalog, timeout=settings.redis_timeout)
    else:
        in_process = InProcessTaskQueue(catalog, concurrency=min(settings.worker_concurrency, 4))
        task_queue = in_process

    relay_outbox = RelayOutbox(uow, task_queue, clock)
    outbox_relay = OutboxRelayLoop(
        relay_outbox,
        clock,
        interval=settings.outbox_relay_interval,
        batch_size=settings.outbox_batch_size,
        reconcile=ReconcileOutbox(uow, task_queue, clock),
    )
    # Low latency without polling hard: a commit that wrote outbox messages wakes the relay.
    uow.on_outbox_commit(outbox_relay.wake)
    probes.append(JobsProbe(uow, task_queue, clock, runner="saq" if saq_queue is not None else "in_process"))
    connection_slots = ConnectionSlots(
        redis, redis_breaker, limit=settings.ws_max_connections_per_user, timeout=settings.redis_timeout
    )
    failed_jobs = SaqFailedJobs(saq_queue) if saq_queue is not None else None

    return Container(
        settings=settings,
        role=role,
        clock=clock,
        database=database,
        uow=uow,
        redis=redis,
        jobs=catalog,
        task_queue=task_queue,
        redis_breaker=redis_breaker,
        cache=cache,
        cache_stats=cache_stats,
        rate_limiter=rate_limiter,
        rate_limit_policies=rate_limit_policies,
        access_states=access_states,
        access_cache=access_cache,
        password_hasher=password_hasher,
        access_tokens=access_tokens,
        secrets=secrets,
        common_passwords=common_passwords,
        model_catalog=model_catalog,
        chat_model=chat_model,
        llm_providers=llm_providers,
        reply_streams=reply_streams,
        user_events=user_events,
        stop_signals=stop_signals,
        reply_tasks=reply_tasks,
        pubsub=pubsub,
        ai=ai,
        notifications=notifications,
        audit_moderation=audit_moderation,
        profiles=build_profiles(settings, uow, clock),
        connection_slots=connection_slots,
        admin=build_admin(
            settings,
            role=role,
            uow=uow,
            engine=database.get_engine(),
            redis=redis,
            redis_breaker=redis_breaker,
            clock=clock,
            task_queue=task_queue,
            failed_jobs=failed_jobs,
            in_process=in_process,
            connection_slots=connection_slots,
            reply_tasks=reply_tasks,
            providers=list(llm_providers),
        ),
        gateway=build_gateway(
            settings,
            uow=uow,
            engine=database.get_engine(),
            chat_model=chat_model,
            catalog=model_catalog,
            limiter=ai_requests,
            budgets=tier_budgets,
            clock=clock,
        ),
        use_cases=UseCases(
            check_readiness=CheckReadiness(probes, clock),
            prune_expired=prune_expired,
            run_job_once=run_once,
            relay_outbox=relay_outbox,
            register_user=RegisterUser(
                uow, password_hasher, clock, common_passwords, default_role=UserRole(settings.default_role)
            ),
            sign_in=SignIn(
                uow,
                password_hasher,
                access_tokens,
                secrets,
                clock,
                rate_limiter,
                rate_limit_policies[LOGIN],
                refresh_ttl,
            ),
            refresh_session=RefreshSession(uow, access_tokens, secrets, clock, refresh_ttl, access_states),
            sign_out=SignOut(uow, secrets, clock, access_states),
            sign_out_everywhere=SignOutEverywhere(uow, clock, access_states),
            authenticate=Authenticate(uow, access_tokens, secrets, clock, access_states),
            get_profile=GetProfile(uow),
            update_profile=UpdateProfile(uow, clock),
            change_password=ChangePassword(uow, password_hasher, clock, common_passwords, access_states),
            deactivate_account=DeactivateAccount(uow, clock, access_states),
            list_users=ListUsers(uow),
            get_user=GetUser(uow),
            update_user=UpdateUser(uow, clock, access_states),
            reset_password=ResetPassword(uow, password_hasher, clock, common_passwords, access_states),
            create_api_key=CreateApiKey(uow, secrets, clock),
            list_api_keys=ListApiKeys(uow),
            revoke_api_key=RevokeApiKey(uow, clock, access_states),
            create_article=CreateArticle(uow, clock),
            get_article=GetArticle(uow),
            list_articles=ListArticles(uow),
            update_article=UpdateArticle(uow, clock),
            delete_article=DeleteArticle(uow),
            summarize_article=SummarizeArticle(
                uow, chat_model, model_catalog, cache, limiter=ai_requests, budgets=tier_budgets, clock=clock
            ),
            fetch_paragraph=FetchParagraph(uow, paragraph_source, clock, dictionary_levels),
            search_paragraphs=SearchParagraphs(uow),
            get_dictionary=GetDictionary(dictionary_levels),
            refresh_dictionary=refresh_dictionary,
            search_everything=SearchEverything(
                uow, [ArticleSearchScope(), ParagraphSearchScope(), MessageSearchScope()]
            ),
            create_conversation=CreateConversation(uow, model_catalog, clock),
            list_conversations=ListConversations(uow, clock),
            get_conversation=GetConversation(uow, clock),
            update_conversation=UpdateConversation(uow, model_catalog, clock),
            delete_conversation=DeleteConversation(uow, stop_signals, clock),
            export_conversation=ExportConversation(uow, clock),
            list_messages=ListMessages(uow),
            send_message=SendMessage(launcher, ai.chat_guard),
            regenerate_reply=RegenerateReply(launcher),
            stop_reply=StopReply(uow, stop_signals, reply_recovery, clock),
            resume_reply_stream=ResumeReplyStream(uow, reply_streams, reply_settings, reply_recovery, clock),
            title_conversation=title_conversation,
            summarize_conversation=summarize_conversation,
            recover_stale_replies=recover_stale_replies,
            get_usage=GetUsage(uow, tier_budgets, clock),
            get_user_budget=GetUserBudget(uow, tier_budgets, clock),
            set_user_budget=SetUserBudget(uow, tier_budgets, clock),
            list_models=ListModels(model_catalog),
            check_providers=CheckProviders(llm_providers, model_catalog, clock),
        ),
        saq_queue=saq_queue,
        in_process_runner=in_process,
        outbox_relay=outbox_relay,
        failed_jobs=failed_jobs,
        tracer_provider=tracer_provider,
        paragraph_source=paragraph_source,
        dictionary=dictionary,
    )
