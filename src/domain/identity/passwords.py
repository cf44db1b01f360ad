"""The password policy: what a new password must be. Pure; the common-password list is data."""

from __future__ import annotations

from collections.abc import Container

from src.domain.identity.errors import WeakPassword

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 takes anything, but a megabyte "password" is an attack


def check_password_policy(password: str, *, email: str, common_passwords: Container[str]) -> None:
    """Raise ``WeakPassword`` naming the first rule the password breaks."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"the password must be at least {MIN_PASSWORD_LENGTH} characters", extra={"rule": "length"})
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"the password must be at most {MAX_PASSWORD_LENGTH} characters", extra={"rule": "length"})
    lowered = password.strip().lower()
    local_part = email.partition("@")[0]
    if lowered == email.lower() or (len(local_part) >= 4 and lowered == local_part.lower()):
        raise WeakPassword("the password must not be your email address", extra={"rule": "not_email"})
    if lowered in common_passwords:
        raise WeakPassword(
            "the password is too common; choose one that is not on lists of leaked passwords", extra={"rule": "common"}
        )
