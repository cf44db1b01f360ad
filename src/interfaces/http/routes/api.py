"""``/api/v1``: every product route, behind the authentication guard unless marked public."""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide

from src.interfaces.http.auth import provide_principal, require_principal
from src.interfaces.http.routes.admin import ADMIN_CONTROLLERS, AUDIT_MODERATION_CONTROLLERS
from src.interfaces.http.routes.ai import AI_CONTROLLERS
from src.interfaces.http.routes.chat import CHAT_CONTROLLERS
from src.interfaces.http.routes.identity import IDENTITY_CONTROLLERS
from src.interfaces.http.routes.knowledge import KNOWLEDGE_CONTROLLERS
from src.interfaces.http.routes.llm import LLM_CONTROLLERS
from src.interfaces.http.routes.notifications import NOTIFICATION_CONTROLLERS
from src.interfaces.http.routes.usage import USAGE_CONTROLLERS
from src.interfaces.http.ws.chat import chat_socket

API_V1 = "/api/v1"


def api_v1_router() -> Router:
    """Secure by default: a route added here needs a signed-in caller unless it says ``opt={"public": True}``."""
    return Router(
        path=API_V1,
        route_handlers=[
            *IDENTITY_CONTROLLERS,
            *LLM_CONTROLLERS,
            *KNOWLEDGE_CONTROLLERS,
            *CHAT_CONTROLLERS,
            *USAGE_CONTROLLERS,
            *AI_CONTROLLERS,
            *NOTIFICATION_CONTROLLERS,
            *AUDIT_MODERATION_CONTROLLERS,
            *ADMIN_CONTROLLERS,
            chat_socket,
        ],
        before_request=require_principal,
        dependencies={"principal": Provide(provide_principal)},
    )
