"""The identity routes under ``/api/v1``."""

from __future__ import annotations

from src.interfaces.http.routes.identity.admin_users import AdminUsersController
from src.interfaces.http.routes.identity.api_keys import ApiKeysController
from src.interfaces.http.routes.identity.auth import AuthController
from src.interfaces.http.routes.identity.browser_session import BrowserSessionController
from src.interfaces.http.routes.identity.users import AvatarController, MeController

IDENTITY_CONTROLLERS = [
    AuthController,
    BrowserSessionController,
    MeController,
    AvatarController,
    AdminUsersController,
    ApiKeysController,
]
