"""Staff analytics and the system's status: ``/api/v1/admin/analytics/...`` and ``/api/v1/admin/system``.

Guarded by the ``analytics:read`` permission (moderators and admins; the system status by ``system:read``), never
by a role name. The use cases check it again, for the CLI and any other front door.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, Response, get
from litestar.params import Parameter, QueryParameter, SkipValidation

from src.application.admin.get_content_analytics import GetContentAnalyticsQuery
from src.application.admin.get_top_spenders import GetTopSpendersQuery
from src.application.admin.get_usage_analytics import GetUsageAnalyticsQuery
from src.application.admin.get_user_analytics import GetUserAnalyticsQuery
from src.domain.admin.analytics import MAX_LIMIT, MAX_RANGE_DAYS
from src.domain.identity.model import Permission, Principal
from src.infrastructure.container import Container
from src.interfaces.http.auth import SECURITY, requires
from src.interfaces.http.routes.admin.schemas import (
    ContentAnalyticsResponse,
    SystemStatusResponse,
    TopSpendersResponse,
    UsageAnalyticsResponse,
    UserAnalyticsResponse,
)

_RANGE = (
    f"From `from` to `to` (UTC days, both included): by default the 30 days ending today; at most "
    f"{MAX_RANGE_DAYS} days (422 `invalid_analytics_query`)."
)
_NEEDS = "Needs `analytics:read`."
_NO_STORE = {"Cache-Control": "no-store"}

FromDay = Annotated[date | None, QueryParameter(name="from", description="First day, YYYY-MM-DD (UTC)")]
ToDay = Annotated[date | None, QueryParameter(name="to", description="Last day, YYYY-MM-DD (UTC)")]


class AnalyticsController(Controller):
    path = "/admin/analytics"
    tags = ["admin"]
    security = SECURITY
    guards = [requires(Permission.ANALYTICS_READ)]

    @get(
        "/usage",
        summary="Usage analytics",
        description=(
            "Every user's model calls (chat replies, titles, summaries, gateway completions, AI tools), grouped "
            "by `day`, `user`, `model`, `provider` or `api_key`: requests, tokens, cost, errors, fallbacks, and "
            "the 50th and 95th percentiles of latency and time to first token. Days come oldest first; the "
            "other groupings by cost, highest first, `limit` of them. `totals` covers every call of the range "
            f"(listed or not) and equals the sum of the stored usage records to the micro-dollar. {_RANGE} "
            f"{_NEEDS}"
        ),
    )
    async def usage(
        self,
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        start: FromDay = None,
        end: ToDay = None,
        group_by: Annotated[
            str,
            Parameter(
                max_length=10,
                description="`day`, `user`, `model`, `provider` or `api_key`",
                schema_extra={"enum": ["day", "user", "model", "provider", "api_key"]},
            ),
        ] = "day",
        limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description="Groups listed at most")] = 100,
    ) -> Response[UsageAnalyticsResponse]:
        query = GetUsageAnalyticsQuery(start=start, end=end, group_by=group_by, limit=limit)
        report = await container.admin.usage_analytics(principal, query)
        return Response(UsageAnalyticsResponse.of(report), headers=_NO_STORE)

    @get(
        "/users",
        summary="Sign-ups and active users",
        description=(
            "Per day and tier: accounts created, and users who made at least one model call. A user counts "
            f"in the tier they have now. {_RANGE} {_NEEDS}"
        ),
    )
    async def users(
        self,
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        start: FromDay = None,
        end: ToDay = None,
    ) -> Response[UserAnalyticsResponse]:
        report = await container.admin.user_analytics(principal, GetUserAnalyticsQuery(start=start, end=end))
        return Response(UserAnalyticsResponse.of(report), headers=_NO_STORE)

    @get(
        "/content",
        summary="Articles and tags",
        description=(
            f"Articles created per day and (current) status, and the ten tags most used by them. {_RANGE} {_NEEDS}"
        ),
    )
    async def content(
        self,
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        start: FromDay = None,
        end: ToDay = None,
    ) -> Response[ContentAnalyticsResponse]:
        report = await container.admin.content_analytics(principal, GetContentAnalyticsQuery(start=start, end=end))
        return Response(ContentAnalyticsResponse.of(report), headers=_NO_STORE)

    @get(
        "/top",
        summary="Top spenders",
        description=(
            "The users who spent most (`by=cost`) or made most model calls (`by=requests`) in the current "
            f"`period` (UTC): `day` (today), `week` (since Monday) or `month` (since the 1st). {_NEEDS}"
        ),
    )
    async def top(
        self,
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        by: Annotated[
            str,
            Parameter(max_length=10, description="`cost` or `requests`", schema_extra={"enum": ["cost", "requests"]}),
        ] = "cost",
        period: Annotated[
            str,
            Parameter(
                max_length=10, description="`day`, `week` or `month`", schema_extra={"enum": ["day", "week", "month"]}
            ),
        ] = "month",
        limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description="Users listed at most")] = 10,
    ) -> Response[TopSpendersResponse]:
        report = await container.admin.top_spenders(principal, GetTopSpendersQuery(by=by, period=period, limit=limit))
        return Response(TopSpendersResponse.of(report), headers=_NO_STORE)


class SystemStatusController(Controller):
    path = "/admin/system"
    tags = ["admin"]
    security = SECURITY
    guards = [requires(Permission.SYSTEM_READ)]

    @get(
        "/",
        summary="System status",
        description=(
            "The running system now: version; each live instance (API and worker processes, from their "
            "heartbeats in Redis; without Redis only the one answering) with its uptime, open WebSockets, "
            "replies streaming, recent HTTP requests and server errors and circuit breakers; the database's "
            "and Redis's round trip; jobs waiting per queue, failed jobs, the outbox backlog and its oldest "
            "age; each breaker's worst state; and the totals across instances, with the recent error rate "
            "(5xx per request, last five minutes). A dependency being down is reported, never an error. "
            "Needs `system:read` (admins)."
        ),
    )
    async def system(
        self, principal: SkipValidation[Principal], container: SkipValidation[Container]
    ) -> Response[SystemStatusResponse]:
        status = await container.admin.system_status(principal)
        return Response(SystemStatusResponse.of(status), headers=_NO_STORE)
