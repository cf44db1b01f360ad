"""Identity: the signing secret, token lifetimes, the first admin, and the role of a new sign-up."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from src.domain.identity.errors import InvalidEmail
from src.domain.identity.model import normalise_email
from src.infrastructure.settings.reading import ConfigError, Reader, both_or_neither, manual, read_group, var

MIN_SECRET_KEY_LENGTH = 32
SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
#: Sign-ups never become staff by configuration: admins and moderators are appointed.
DEFAULT_ROLES = ("creator", "viewer")


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    #: Required in production; in development generated once into ``<PARLEY_VAR_DIR>/secret_key``.
    secret_key: str = manual("SECRET_KEY", "", secret=True)
    #: The secret key was generated (not a variable).
    secret_key_generated: bool = field(default=False)
    access_token_ttl_seconds: int = var("ACCESS_TOKEN_TTL_SECONDS", 900, minimum=30, maximum=86_400)
    refresh_token_ttl_days: int = var("REFRESH_TOKEN_TTL_DAYS", 30, minimum=1, maximum=365)
    jwt_issuer: str = var("JWT_ISSUER", "parley")
    jwt_audience: str = var("JWT_AUDIENCE", "parley-api")
    #: The admin created at start (both or neither).
    admin_email: str | None = manual("ADMIN_EMAIL", None)
    admin_password: str | None = manual("ADMIN_PASSWORD", None, secret=True)
    #: The role of a new sign-up: ``creator`` (publishes, generates) or ``viewer`` (reads and chats).
    default_role: Literal["creator", "viewer"] = var("DEFAULT_ROLE", "creator", choices=DEFAULT_ROLES)


def load_identity(env: Reader, *, production: bool, var_dir: Path) -> IdentitySettings:
    secret_key = env.text("SECRET_KEY", "")
    generated = False
    if not secret_key:
        if production:
            raise ConfigError("SECRET_KEY", "is required in production (at least 32 characters)")
        secret_key, generated = _development_secret(var_dir)
    elif len(secret_key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError("SECRET_KEY", f"is too short: use at least {MIN_SECRET_KEY_LENGTH} characters")

    admin_email, admin_password = both_or_neither(
        env,
        "ADMIN_EMAIL",
        "ADMIN_PASSWORD",
        "must be set too when ADMIN_EMAIL or ADMIN_PASSWORD is set (both or neither)",
    )
    if admin_email is not None:
        try:
            admin_email = normalise_email(admin_email)
        except InvalidEmail:
            raise ConfigError("ADMIN_EMAIL", f"is not an email address, got {admin_email!r}") from None
        # Checked here, like every setting: a password the API would refuse from anyone else must
        # stop every command at once with one line, not fail the server's start-up half-way.
        _check_admin_password(admin_password or "", admin_email)
    return read_group(
        IdentitySettings,
        env,
        secret_key=secret_key,
        secret_key_generated=generated,
        admin_email=admin_email,
        admin_password=admin_password,
    )


def _check_admin_password(password: str, email: str) -> None:
    from src.domain.identity.errors import WeakPassword
    from src.domain.identity.passwords import check_password_policy
    from src.infrastructure.security.common_passwords import CommonPasswordList

    try:
        check_password_policy(password, email=email, common_passwords=CommonPasswordList())
    except WeakPassword as exc:
        raise ConfigError("ADMIN_PASSWORD", f"is refused by the password policy: {exc.detail}") from None


def _development_secret(var_dir: Path) -> tuple[str, bool]:
    """Read or create ``var/secret_key`` so that development tokens survive restarts."""
    path = var_dir / SECRET_KEY_FILE
    try:
        if path.is_file():
            existing = path.read_text(encoding="utf-8").strip()
            if len(existing) >= MIN_SECRET_KEY_LENGTH:
                return existing, False
        var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # Created with 0600 so other users of the machine cannot read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
    except OSError as exc:
        raise ConfigError("SECRET_KEY", f"is not set and {path} cannot be written ({exc.strerror})") from exc
    return key, True
