"""The first admin from ``ADMIN_EMAIL``/``ADMIN_PASSWORD``, created once when the API starts.

Nothing happens when the variables are unset or a user with that email already exists (whatever
their role: an existing account is never changed from here). The password is never logged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from src.application.identity.ports import IdentityTransaction
from src.application.identity.views import RegisterUserCommand, UserView
from src.application.shared.ports import UnitOfWorkFactory
from src.domain.identity.errors import EmailTaken, InvalidDisplayName, InvalidEmail, WeakPassword
from src.domain.identity.model import Role
from src.infrastructure.logging import get_logger
from src.infrastructure.settings import ConfigError, Settings

logger = get_logger("parley.identity")

ADMIN_DISPLAY_NAME = "Administrator"

RegisterUserFn = Callable[[RegisterUserCommand], Awaitable[UserView]]


async def bootstrap_admin(
    settings: Settings, uow: UnitOfWorkFactory[IdentityTransaction], register_user: RegisterUserFn
) -> bool:
    """Create the configured admin unless that email is registered; whether an account was created.

    Raises ``ConfigError`` when the password breaks the password policy: the API must not start
    with an admin password it would refuse from anyone else.
    """
    email, password = settings.identity.admin_email, settings.identity.admin_password
    if not email or not password:
        return False
    async with uow(read_only=True) as tx:
        existing = await tx.users.get_by_email(email)
    if existing is not None:
        logger.debug("admin_bootstrap_skipped", email=email, reason="email_registered")
        return False
    try:
        admin = await register_user(
            RegisterUserCommand(email=email, password=password, display_name=ADMIN_DISPLAY_NAME, role=Role.ADMIN)
        )
    except EmailTaken:
        # Another instance starting at the same moment created it first.
        logger.debug("admin_bootstrap_skipped", email=email, reason="created_concurrently")
        return False
    except WeakPassword as exc:
        raise ConfigError("ADMIN_PASSWORD", f"is refused by the password policy: {exc.detail}") from None
    except (InvalidEmail, InvalidDisplayName) as exc:
        raise ConfigError("ADMIN_EMAIL", f"is refused: {exc.detail}") from None
    logger.info("admin_created", user_id=str(admin.id), email=admin.email)
    return True
