"""The errors every provider adapter maps its SDK's exceptions into; raw SDK errors never leave one.

``retryable`` errors (rate limits, outages, timeouts) are retried and fall back to the next model
before the first delta reaches the client; the others are the caller's or the operator's to fix.
A refused key is not retried but does fall back (``provider_fault``): another provider may answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from src.domain.shared.errors import DomainError, ErrorKind, InvalidInput


class ProviderError(DomainError):
    code = "provider_error"
    kind: ClassVar[ErrorKind] = "unavailable"
    title = "The language model provider failed"
    retryable: ClassVar[bool] = False
    #: The provider, not the request, is at fault: it counts against the provider's circuit breaker,
    #: and the next model of a fallback chain is tried. A request a provider rejects (too long,
    #: blocked) would fare no better elsewhere.
    provider_fault: ClassVar[bool] = True

    def __init__(
        self,
        detail: str | None = None,
        *,
        provider: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        merged = dict(extra or {})
        if provider is not None:
            merged.setdefault("provider", provider)
        super().__init__(detail, extra=merged)
        self.provider = provider


class ProviderAuthError(ProviderError):
    """The provider refused Parley's credentials (a bad or revoked key): the operator must fix it."""

    code = "provider_auth_failed"
    title = "The language model provider refused Parley's credentials"


class ProviderRateLimited(ProviderError):
    code = "provider_rate_limited"
    title = "The language model provider is rate limiting Parley"
    retryable = True

    def __init__(
        self,
        detail: str | None = None,
        *,
        provider: str | None = None,
        retry_after: float | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        merged = dict(extra or {})
        if retry_after is not None:
            # In ``extra`` too, so front doors can say when to come back (HTTP: ``Retry-After``).
            merged.setdefault("retry_after", retry_after)
        super().__init__(detail, provider=provider, extra=merged)
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    """A 5xx answer, a refused or dropped connection, or a circuit breaker that is open."""

    code = "provider_unavailable"
    title = "The language model provider is unavailable"
    retryable = True


class ProviderTimeout(ProviderError):
    """No answer, or no chunk of a stream, within the configured time."""

    code = "provider_timeout"
    title = "The language model provider timed out"
    retryable = True


class ProviderBadRequest(ProviderError):
    """The provider rejected the request itself (``context_too_long`` when the prompt is too big)."""

    code = "provider_bad_request"
    kind = "invalid"
    title = "The language model provider rejected the request"
    provider_fault = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        provider: str | None = None,
        context_too_long: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        merged = dict(extra or {})
        if context_too_long:
            merged.setdefault("context_too_long", True)
        super().__init__(detail, provider=provider, extra=merged)
        self.context_too_long = context_too_long


class ContentBlocked(ProviderError):
    """The provider's safety filter refused the prompt or the answer."""

    code = "content_blocked"
    kind = "invalid"
    title = "The provider's content filter blocked this request"
    provider_fault = False


class UnknownModel(InvalidInput):
    """A model id that is malformed, not in the catalog, or whose provider is not configured."""

    code = "model_unavailable"
    title = "This model is not available"
