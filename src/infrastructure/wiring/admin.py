"""The admin context's use cases (analytics, system status) and this process's heartbeat."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from src.application.admin.get_content_analytics import GetContentAnalytics
from src.application.admin.get_top_spenders import GetTopSpenders
from src.application.admin.get_usage_analytics import GetUsageAnalytics
from src.application.admin.get_user_analytics import GetUserAnalytics
from src.application.admin.system_status import GetSystemStatus
from src.application.shared.ports import Clock
from src.infrastructure.admin.instances import InstanceRegistry
from src.infrastructure.admin.probes import SqlSystemProbes
from src.infrastructure.persistence.analytics_queries import SqlAnalyticsReader
from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory
from src.infrastructure.queue.saq_queue import QUEUE_NAME
from src.infrastructure.resilience import CircuitBreaker
from src.infrastructure.settings import Settings
from src.infrastructure.wiring.chat import ChatRealtime
from src.infrastructure.wiring.system import JobRunners


def parley_version() -> str:
    try:
        return version("parley")
    except PackageNotFoundError:
        return "0.0.0+local"


@dataclass(frozen=True, slots=True)
class AdminServices:
    usage_analytics: GetUsageAnalytics
    user_analytics: GetUserAnalytics
    content_analytics: GetContentAnalytics
    top_spenders: GetTopSpenders
    system_status: GetSystemStatus
    #: This process's heartbeat (started by API and worker processes) and the list of instances.
    instances: InstanceRegistry


def build_admin(
    settings: Settings,
    *,
    role: str,
    uow: SqlAlchemyUnitOfWorkFactory,
    engine: AsyncEngine,
    redis: Redis | None,
    redis_breaker: CircuitBreaker,
    clock: Clock,
    runners: JobRunners,
    realtime: ChatRealtime,
    providers: list[str],
) -> AdminServices:
    """The heartbeat counts ``realtime``'s open WebSockets and replies; the probes look at ``runners``."""
    reader = SqlAnalyticsReader(uow)
    parley = parley_version()
    instances = InstanceRegistry(
        role=role,
        version=parley,
        clock=clock,
        redis=redis,
        breaker=redis_breaker,
        timeout=settings.redis.timeout,
        interval=settings.observability.instance_heartbeat_seconds,
        open_websockets=lambda: realtime.connection_slots.open_here,
        streaming_replies=realtime.reply_tasks.running,
        providers=providers,
    )
    probes = SqlSystemProbes(
        engine=engine,
        redis=redis,
        uow=uow,
        queue=runners.task_queue,
        queue_name=QUEUE_NAME,
        failed_jobs=runners.failed_jobs,
        in_process=runners.in_process,
        clock=clock,
        timeout=settings.ready_timeout,
    )
    return AdminServices(
        usage_analytics=GetUsageAnalytics(reader, clock),
        user_analytics=GetUserAnalytics(reader, clock),
        content_analytics=GetContentAnalytics(reader, clock),
        top_spenders=GetTopSpenders(reader, clock),
        system_status=GetSystemStatus(instances, probes, clock, version=parley),
        instances=instances,
    )
