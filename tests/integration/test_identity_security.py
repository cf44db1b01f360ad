"""The security adapters: argon2id hashing, JWT access tokens, opaque secrets, common passwords."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from pwdlib.hashers.argon2 import Argon2Hasher

from src.domain.identity.errors import InvalidToken, WeakPassword
from src.domain.identity.model import Role, Tier, User
from src.domain.identity.passwords import check_password_policy
from src.infrastructure.security.common_passwords import CommonPasswordList
from src.infrastructure.security.passwords import DUMMY_HASH, Argon2PasswordHasher
from src.infrastructure.security.secrets import HmacSecretGenerator
from src.infrastructure.security.tokens import JwtAccessTokenIssuer
from tests.conftest import TEST_SECRET_KEY

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
#: Cheap parameters: the tests check behaviour, not cost.
FAST = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


def a_user(*, role: Role = Role.CREATOR, token_version: int = 3) -> User:
    return User(
        id=uuid.uuid4(),
        email="ada@example.com",
        display_name="Ada",
        password_hash="",
        role=role,
        tier=Tier.FREE,
        is_active=True,
        created_at=NOW,
        updated_at=NOW,
        token_version=token_version,
    )


# --- passwords --------------------------------------------------------------------------------


async def test_a_hashed_password_verifies_and_a_wrong_one_does_not() -> None:
    hasher = Argon2PasswordHasher(**FAST)
    stored = await hasher.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert await hasher.verify("correct horse battery staple", stored) == (True, None)
    assert await hasher.verify("Correct horse battery staple", stored) == (False, None)
    # Salted: the same password never hashes to the same text twice.
    assert await hasher.hash("correct horse battery staple") != stored


async def test_a_hash_made_with_old_parameters_verifies_and_is_upgraded() -> None:
    old = Argon2PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    current = Argon2PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    stored = await old.hash("correct horse battery staple")

    matches, upgraded = await current.verify("correct horse battery staple", stored)

    assert matches
    assert upgraded is not None
    assert "m=2048,t=2,p=1" in upgraded
    assert await current.verify("correct horse battery staple", upgraded) == (True, None)
    # A wrong password is never upgraded.
    assert await current.verify("wrong password!!", stored) == (False, None)


async def test_a_hash_that_is_not_argon2_matches_nothing() -> None:
    hasher = Argon2PasswordHasher(**FAST)
    assert await hasher.verify("anything", "not-a-hash") == (False, None)


def test_the_shipped_dummy_hash_has_the_default_parameters() -> None:
    """Otherwise the first unknown-user sign-in would also pay for making one (a timing tell)."""
    assert not Argon2Hasher().check_needs_rehash(DUMMY_HASH)


async def test_the_dummy_verification_runs_and_matches_nothing() -> None:
    hasher = Argon2PasswordHasher(**FAST)
    await hasher.verify_dummy("some password")
    await hasher.verify_dummy("some password")  # the precomputed hash is reused


# --- access tokens ----------------------------------------------------------------------------


def issuer(**overrides: object) -> JwtAccessTokenIssuer:
    options: dict[str, object] = {"issuer": "parley", "audience": "parley-api", "ttl": timedelta(minutes=15)}
    options.update(overrides)
    return JwtAccessTokenIssuer(TEST_SECRET_KEY, **options)  # type: ignore[arg-type]


def claims_of(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


def test_an_issued_token_verifies_with_its_claims() -> None:
    user = a_user(role=Role.ADMIN, token_version=7)
    issued = issuer().issue(user, now=NOW)

    claims = issuer().verify(issued.token, now=NOW + timedelta(minutes=1))

    assert issued.expires_in == 900
    assert (claims.user_id, claims.role, claims.token_version) == (user.id, Role.ADMIN, 7)
    assert claims.issued_at == NOW
    assert claims.expires_at == NOW + timedelta(minutes=15)
    raw = claims_of(issued.token)
    assert set(raw) == {"sub", "exp", "iat", "nbf", "jti", "iss", "aud", "role", "ver"}
    assert (raw["iss"], raw["aud"], raw["sub"]) == ("parley", "parley-api", str(user.id))
    assert jwt.get_unverified_header(issued.token)["alg"] == "HS256"
    # Every token has its own id.
    assert claims_of(issuer().issue(user, now=NOW).token)["jti"] != raw["jti"]


def test_expiry_allows_thirty_seconds_of_clock_skew_and_no_more() -> None:
    token = issuer().issue(a_user(), now=NOW).token
    expiry = NOW + timedelta(minutes=15)
    issuer().verify(token, now=expiry + timedelta(seconds=29))
    with pytest.raises(InvalidToken):
        issuer().verify(token, now=expiry + timedelta(seconds=31))


def test_a_token_from_the_future_is_refused_beyond_the_leeway() -> None:
    token = issuer().issue(a_user(), now=NOW).token
    issuer().verify(token, now=NOW - timedelta(seconds=20))
    with pytest.raises(InvalidToken):
        issuer().verify(token, now=NOW - timedelta(minutes=2))


def test_a_verified_token_is_remembered_but_its_times_are_checked_on_every_use() -> None:
    tokens = issuer()
    token = tokens.issue(a_user(), now=NOW).token
    first = tokens.verify(token, now=NOW)
    assert tokens.verify(token, now=NOW + timedelta(minutes=5)) is first  # no second signature check
    expiry = NOW + timedelta(minutes=15)
    with pytest.raises(InvalidToken):
        tokens.verify(token, now=expiry + timedelta(seconds=31))
    with pytest.raises(InvalidToken):
        tokens.verify(token, now=NOW - timedelta(minutes=2))
    # A remembered token does not vouch for a tampered copy of itself.
    header, _, signature = _segments(token)
    promoted = {**claims_of(token), "role": "admin"}
    with pytest.raises(InvalidToken):
        tokens.verify(f"{header}.{_b64(promoted)}.{signature}", now=NOW)


def test_the_remembered_tokens_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("src.infrastructure.security.tokens.VERIFIED_CACHE_SIZE", 3)
    tokens = issuer()
    issued = [tokens.issue(a_user(), now=NOW).token for _ in range(5)]
    for token in issued:
        tokens.verify(token, now=NOW)
    assert list(tokens._verified) == issued[-3:]  # the least recently used went first
    tokens.verify(issued[0], now=NOW)  # verified again from scratch, still valid
    assert list(tokens._verified) == [*issued[-2:], issued[0]]


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_tampered_token_is_refused() -> None:
    token = issuer().issue(a_user(role=Role.CREATOR), now=NOW).token
    header, payload, signature = _segments(token)
    promoted = {**claims_of(token), "role": "admin"}
    with pytest.raises(InvalidToken):
        issuer().verify(f"{header}.{_b64(promoted)}.{signature}", now=NOW)
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    with pytest.raises(InvalidToken):
        issuer().verify(f"{header}.{payload}.{flipped}", now=NOW)


def test_alg_none_is_refused() -> None:
    claims = claims_of(issuer().issue(a_user(), now=NOW).token)
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    with pytest.raises(InvalidToken):
        issuer().verify(unsigned, now=NOW)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_another_algorithm_with_the_right_key_is_refused() -> None:
    claims = claims_of(issuer().issue(a_user(), now=NOW).token)
    hs512 = jwt.encode(claims, TEST_SECRET_KEY, algorithm="HS512")
    with pytest.raises(InvalidToken):
        issuer().verify(hs512, now=NOW)


def test_a_token_signed_with_another_key_is_refused() -> None:
    claims = claims_of(issuer().issue(a_user(), now=NOW).token)
    forged = jwt.encode(claims, "another-secret-key-that-is-long-enough-9876543210", algorithm="HS256")
    with pytest.raises(InvalidToken):
        issuer().verify(forged, now=NOW)


def test_the_wrong_audience_or_issuer_is_refused() -> None:
    for other in (issuer(audience="someone-else"), issuer(issuer="not-parley")):
        token = other.issue(a_user(), now=NOW).token
        other.verify(token, now=NOW)  # valid for whoever issued it
        with pytest.raises(InvalidToken):
            issuer().verify(token, now=NOW)


def test_a_token_missing_a_claim_is_refused() -> None:
    claims = claims_of(issuer().issue(a_user(), now=NOW).token)
    del claims["ver"]
    with pytest.raises(InvalidToken):
        issuer().verify(jwt.encode(claims, TEST_SECRET_KEY, algorithm="HS256"), now=NOW)


def test_a_refresh_token_or_api_key_is_not_an_access_token() -> None:
    secrets = HmacSecretGenerator(TEST_SECRET_KEY)
    for not_a_jwt in (secrets.refresh_token(), secrets.api_key(), "", "a.b.c"):
        with pytest.raises(InvalidToken):
            issuer().verify(not_a_jwt, now=NOW)


# --- secrets ----------------------------------------------------------------------------------


def test_refresh_tokens_and_api_keys_are_long_random_and_url_safe() -> None:
    secrets = HmacSecretGenerator(TEST_SECRET_KEY)
    tokens = {secrets.refresh_token() for _ in range(50)}
    keys = {secrets.api_key() for _ in range(50)}
    assert len(tokens) == 50
    assert len(keys) == 50
    url_safe = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    for token in tokens:
        assert len(base64.urlsafe_b64decode(token + "=")) >= 32  # at least 256 bits
        assert set(token) <= url_safe
    for key in keys:
        assert key.startswith("pk_")
        assert len(base64.urlsafe_b64decode(key[3:] + "=")) >= 32


def test_digests_are_keyed_stable_and_distinct() -> None:
    secrets = HmacSecretGenerator(TEST_SECRET_KEY)
    token = secrets.refresh_token()
    assert secrets.digest(token) == secrets.digest(token)
    assert len(secrets.digest(token)) == 64
    assert token not in secrets.digest(token)
    assert secrets.digest(token) != secrets.digest(token + "x")
    # Another SECRET_KEY gives other digests: stolen digests cannot be recomputed without the key.
    assert HmacSecretGenerator("another-secret-key-that-is-long-enough-9876543210").digest(token) != secrets.digest(
        token
    )


# --- common passwords -------------------------------------------------------------------------


def test_the_shipped_list_knows_common_passwords_and_not_good_ones() -> None:
    common = CommonPasswordList()
    assert len(common) == 10_000
    for password in ("password", "123456", "qwertyuiop", "1234567890", "PASSWORD"):
        assert password in common
    assert "velvet-otter-drums-quietly" not in common
    assert 42 not in common


def test_the_policy_refuses_a_common_password_from_the_shipped_list() -> None:
    common = CommonPasswordList()
    with pytest.raises(WeakPassword) as raised:
        check_password_policy("qwertyuiop", email="ada@example.com", common_passwords=common)
    assert raised.value.extra["rule"] == "common"
    check_password_policy("velvet-otter-drums-quietly", email="ada@example.com", common_passwords=common)


def test_a_token_issued_as_member_before_roles_were_split_still_verifies() -> None:
    # Signed with the same key, as the previous release issued it: the upgrade must not sign everyone out.
    claims = {**claims_of(issuer().issue(a_user(), now=NOW).token), "role": "member"}
    legacy = jwt.encode(claims, TEST_SECRET_KEY, algorithm="HS256")
    assert issuer().verify(legacy, now=NOW).role is Role.CREATOR
    unknown = jwt.encode({**claims, "role": "superuser"}, TEST_SECRET_KEY, algorithm="HS256")
    with pytest.raises(InvalidToken):
        issuer().verify(unknown, now=NOW)
