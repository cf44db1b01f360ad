"""Identity errors, each with a stable code the front doors translate."""

from __future__ import annotations

from src.domain.shared.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied, Unauthenticated


class InvalidEmail(InvalidInput):
    code = "invalid_email"
    title = "Invalid email address"


class InvalidDisplayName(InvalidInput):
    code = "invalid_display_name"
    title = "Invalid display name"


class InvalidBio(InvalidInput):
    code = "invalid_bio"
    title = "Invalid bio"


class WeakPassword(InvalidInput):
    code = "weak_password"
    title = "Password too weak"


class EmailTaken(Conflict):
    code = "email_taken"
    title = "Email already registered"


class UserNotFound(NotFound):
    code = "user_not_found"
    title = "User not found"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    title = "API key not found"


class InvalidCredentials(Unauthenticated):
    """Unknown email or wrong password: one answer for both."""

    code = "invalid_credentials"
    title = "Invalid email or password"


class InvalidToken(Unauthenticated):
    code = "invalid_token"
    title = "Invalid or expired token"


class AccountInactive(Unauthenticated):
    code = "account_inactive"
    title = "This account is deactivated"


class SessionRevoked(Unauthenticated):
    code = "session_revoked"
    title = "This session was signed out"


class SessionExpired(Unauthenticated):
    code = "session_expired"
    title = "This session has expired"


class RefreshTokenReused(Unauthenticated):
    """A rotated refresh token came back: it was copied. The whole session is revoked."""

    code = "refresh_token_reused"
    title = "Refresh token already used"


class Forbidden(PermissionDenied):
    code = "forbidden"
    title = "You do not have permission to do this"


class SignInThrottled(DomainError):
    """Too many failed sign-ins for one email from one address; ``extra["retry_after"]`` is in seconds."""

    code = "too_many_attempts"
    kind = "rate_limited"
    title = "Too many failed sign-in attempts"


class InvalidApiKeyName(InvalidInput):
    code = "invalid_api_key_name"
    title = "Invalid API key name"


class InvalidApiKeyExpiry(InvalidInput):
    code = "invalid_api_key_expiry"
    title = "Invalid API key expiry"


class TooManyApiKeys(Conflict):
    code = "too_many_api_keys"
    title = "Too many active API keys"


class CannotChangeOwnAccess(DomainError):
    """Staff never change their own access: demoting or deactivating themselves could lock everyone
    out, and raising their own tier or budget would be granting themselves what others must ask for."""

    code = "cannot_change_own_access"
    kind = "conflict"
    title = "Staff cannot change their own role, status, tier or budget"


class PasswordUnchanged(InvalidInput):
    code = "password_unchanged"
    title = "The new password is the current one"


class InvalidImage(InvalidInput):
    """Not a PNG, JPEG or WebP picture Parley can read (whatever its name or declared type says)."""

    code = "invalid_image"
    title = "Invalid image"


class ImageTooLarge(InvalidInput):
    code = "image_too_large"
    title = "Image too large"


class AvatarNotFound(NotFound):
    code = "avatar_not_found"
    title = "No avatar"
