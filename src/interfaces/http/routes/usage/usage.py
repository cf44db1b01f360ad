"""Your usage (tokens and cost by day or model) and your budget; admins set budgets per user."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from litestar import Controller, get, put
from litestar.params import FromPath, JSONBody, Parameter, QueryParameter, SkipValidation

from src.application.usage.get_usage import GetUsageQuery
from src.application.usage.get_user_budget import GetUserBudgetQuery
from src.application.usage.set_user_budget import SetUserBudgetCommand
from src.domain.identity.model import Permission, Principal
from src.infrastructure.container import Container
from src.interfaces.http.auth import SECURITY, requires
from src.interfaces.http.routes.usage.schemas import SetBudgetRequest, UsageResponse, UserBudgetResponse


class UsageController(Controller):
    path = "/usage"
    tags = ["usage"]
    security = SECURITY

    @get(
        "/",
        summary="Your usage and budget",
        description=(
            "Totals of your model calls (replies and automatic titles) from `from` to `to` (UTC days, both "
            "included; this month so far by default, at most 366 days), by `day`, `model` or `api_key` "
            "(the key a call was made with; `no_api_key` for the others), and this month's "
            "budget and spending. Deleting a conversation does not remove what it cost."
        ),
    )
    async def get_usage(
        self,
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        start: Annotated[date | None, QueryParameter(name="from", description="First day, YYYY-MM-DD")] = None,
        end: Annotated[date | None, QueryParameter(name="to", description="Last day, YYYY-MM-DD")] = None,
        group_by: Annotated[
            str,
            Parameter(
                max_length=10,
                description="`day`, `model` or `api_key`",
                schema_extra={"enum": ["day", "model", "api_key"]},
            ),
        ] = "day",
    ) -> UsageResponse:
        query = GetUsageQuery(start=start, end=end, group_by=group_by)
        return UsageResponse.of(await container.use_cases.usage.get_usage(principal, query))


class BudgetsController(Controller):
    path = "/admin/users"
    tags = ["admin"]
    security = SECURITY
    guards = [requires(Permission.USERS_MANAGE)]

    @get(
        "/{user_id:uuid}/budget",
        summary="A user's monthly budget",
        description="Their own budget, or their tier's, and what they spent this month. Needs `users:manage`.",
    )
    async def get_budget(
        self, user_id: FromPath[uuid.UUID], principal: SkipValidation[Principal], container: SkipValidation[Container]
    ) -> UserBudgetResponse:
        return UserBudgetResponse.of(
            await container.use_cases.usage.get_user_budget(principal, GetUserBudgetQuery(user_id))
        )

    @put(
        "/{user_id:uuid}/budget",
        summary="Set a user's monthly budget",
        description=(
            "`monthly_usd` dollars a month for this user, whatever their tier (`0` allows no AI requests at all); "
            "`null` gives them their tier's again (`BUDGET_FREE_MONTHLY_USD`, `BUDGET_PRO_MONTHLY_USD`). Takes "
            "effect on their next request. Needs `users:manage`."
        ),
    )
    async def set_budget(
        self,
        user_id: FromPath[uuid.UUID],
        data: JSONBody[SetBudgetRequest],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> UserBudgetResponse:
        amount = None if data.monthly_usd is None else str(data.monthly_usd)
        return UserBudgetResponse.of(
            await container.use_cases.usage.set_user_budget(principal, SetUserBudgetCommand(user_id, amount))
        )
