"""JWT access tokens (PyJWT): HS256 only, signed with ``SECRET_KEY``, short-lived.

The algorithm is pinned: a token whose header names any other algorithm (``none`` included) is
rejected before its signature is even looked at. Times are checked against the caller's clock with
a small leeway for clocks that differ between instances.

Checking a signature and parsing the claims costs ~0.1-0.3 ms, paid on every API request; the
claims of tokens whose signature checked out are kept in a small LRU (keyed by the whole token, so
only a token this key signed can enter it: garbage and forgeries are never cached). The times are
checked on every use, so a cached token still expires on time.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from src.application.identity.ports import AccessClaims, IssuedAccessToken
from src.domain.identity.errors import InvalidToken
from src.domain.identity.model import Role, User

ALGORITHM = "HS256"
DEFAULT_LEEWAY = timedelta(seconds=30)
REQUIRED_CLAIMS = ("sub", "exp", "iat", "nbf", "jti", "iss", "aud", "role", "ver")
#: Verified tokens whose claims are kept (about 1 KiB each).
VERIFIED_CACHE_SIZE = 4096


class JwtAccessTokenIssuer:
    """Implements ``AccessTokenIssuer``."""

    def __init__(
        self,
        secret_key: str,
        *,
        issuer: str,
        audience: str,
        ttl: timedelta,
        leeway: timedelta = DEFAULT_LEEWAY,
    ) -> None:
        if not secret_key:
            raise ValueError("a secret key is required")
        if ttl <= timedelta(0):
            raise ValueError("access tokens need a positive lifetime")
        self._key = secret_key
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl
        self._leeway = leeway
        self._verified: OrderedDict[str, tuple[AccessClaims, datetime]] = OrderedDict()

    def issue(self, user: User, *, now: datetime, session_id: uuid.UUID | None = None) -> IssuedAccessToken:
        issued = int(now.timestamp())
        expires_in = int(self._ttl.total_seconds())
        claims = {
            "sub": str(user.id),
            "iss": self._issuer,
            "aud": self._audience,
            "iat": issued,
            "nbf": issued,
            "exp": issued + expires_in,
            "jti": uuid.uuid4().hex,
            "role": user.role.value,
            "ver": user.token_version,
        }
        if session_id is not None:
            claims["sid"] = str(session_id)
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"typ": "JWT"})
        return IssuedAccessToken(token=token, expires_in=expires_in)

    def verify(self, token: str, *, now: datetime, allow_expired: bool = False) -> AccessClaims:
        cached = self._verified.get(token)
        if cached is None:
            cached = self._decode(token)
            self._verified[token] = cached
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        else:
            self._verified.move_to_end(token)
        claims, not_before = cached
        if not allow_expired and now >= claims.expires_at + self._leeway:
            raise InvalidToken("the access token has expired")
        if now + self._leeway < not_before or now + self._leeway < claims.issued_at:
            raise InvalidToken("the access token is not valid yet")
        return claims

    def _decode(self, token: str) -> tuple[AccessClaims, datetime]:
        """The claims and not-before time of a token this key signed for this audience and issuer
        (times not checked)."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                # Times are checked by ``verify`` against the caller's clock, not PyJWT's.
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
            version = claims["ver"]
            if not isinstance(version, int) or isinstance(version, bool):
                raise InvalidToken()
            access = AccessClaims(
                user_id=uuid.UUID(str(claims["sub"])),
                role=Role.from_issued(str(claims["role"])),
                token_version=version,
                jti=str(claims["jti"]),
                issued_at=_timestamp(claims["iat"]),
                expires_at=_timestamp(claims["exp"]),
                session_id=uuid.UUID(str(claims["sid"])) if "sid" in claims else None,
            )
            return access, _timestamp(claims["nbf"])
        except InvalidToken:
            raise
        except (jwt.PyJWTError, ValueError, TypeError, OverflowError) as exc:
            # Bad signature, another algorithm, wrong audience or issuer, a missing or malformed
            # claim, or not a JWT at all (a refresh token): one answer, no detail for an attacker.
            raise InvalidToken() from exc


def _timestamp(value: object) -> datetime:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError("a time claim must be a number")
    return datetime.fromtimestamp(value, tz=UTC)
