"""Identity repositories on SQLite and PostgreSQL: users, refresh tokens, API keys."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from uuid_utils.compat import uuid7

from src.domain.identity.errors import EmailTaken, RefreshTokenReused
from src.domain.identity.model import ApiKey, RefreshToken, Role, Tier, User
from src.infrastructure.persistence.database import build_database_config
from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory
from src.infrastructure.settings import Settings

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LIFETIME = timedelta(days=30)


@pytest.fixture
async def uow(migrated_settings: Settings) -> AsyncIterator[SqlAlchemyUnitOfWorkFactory]:
    config = build_database_config(migrated_settings)
    yield SqlAlchemyUnitOfWorkFactory.for_database(config)
    await config.get_engine().dispose()


def make_user(email: str = "ada@example.com", *, display_name: str = "Ada", created_at: datetime = NOW) -> User:
    return User(
        id=uuid7(),
        email=email,
        display_name=display_name,
        password_hash="$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        role=Role.CREATOR,
        tier=Tier.FREE,
        is_active=True,
        created_at=created_at,
        updated_at=created_at,
    )


def start_session(user: User, token_hash: str, *, now: datetime = NOW, lifetime: timedelta = LIFETIME) -> RefreshToken:
    return RefreshToken.start_family(
        user_id=user.id, token_hash=token_hash, now=now, lifetime=lifetime, id=uuid7(), family_id=uuid7()
    )


async def stored_user(uow: SqlAlchemyUnitOfWorkFactory, user: User | None = None) -> User:
    user = user or make_user()
    async with uow() as tx:
        await tx.users.add(user)
    return user


# --- users ------------------------------------------------------------------------------------


async def test_a_user_round_trips_and_is_found_by_id_and_email(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    async with uow(read_only=True) as tx:
        by_id = await tx.users.get(user.id)
        by_email = await tx.users.get_by_email("ada@example.com")
        missing = await tx.users.get_by_email("nobody@example.com")
    assert by_id == user
    assert by_email == user
    assert missing is None


async def test_changes_to_a_user_are_saved(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    later = NOW + timedelta(hours=1)
    async with uow() as tx:
        loaded = await tx.users.get(user.id)
        assert loaded is not None
        loaded.rename("Ada Lovelace", now=later)
        loaded.set_role(Role.ADMIN, now=later)
        loaded.set_tier(Tier.PRO, now=later)
        loaded.deactivate(now=later)
        await tx.users.save(loaded)
    async with uow(read_only=True) as tx:
        saved = await tx.users.get(user.id)
    assert saved is not None
    assert (saved.display_name, saved.role, saved.tier, saved.is_active) == (
        "Ada Lovelace",
        Role.ADMIN,
        Tier.PRO,
        False,
    )
    assert saved.token_version == 2  # the role change and the deactivation each end issued tokens


async def test_a_second_account_with_the_same_email_is_refused_and_the_transaction_goes_on(
    uow: SqlAlchemyUnitOfWorkFactory,
) -> None:
    await stored_user(uow)
    async with uow() as tx:
        with pytest.raises(EmailTaken):
            await tx.users.add(make_user("ada@example.com", display_name="Impostor"))
        # The savepoint kept the transaction usable: another user is still stored.
        await tx.users.add(make_user("grace@example.com"))
    async with uow(read_only=True) as tx:
        users, total = await tx.users.search(query=None, limit=10, offset=0)
    assert total == 2
    assert sorted(u.email for u in users) == ["ada@example.com", "grace@example.com"]
    assert [u.display_name for u in users if u.email == "ada@example.com"] == ["Ada"]


async def test_two_registrations_racing_for_one_email_leave_one_account(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    async def register(name: str) -> str:
        try:
            async with uow() as tx:
                await tx.users.add(make_user("race@example.com", display_name=name))
        except EmailTaken:
            return "taken"
        return "created"

    outcomes = await asyncio.gather(register("first"), register("second"))
    assert sorted(outcomes) == ["created", "taken"]


async def test_the_database_refuses_an_email_that_is_not_lower_case(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    with pytest.raises((EmailTaken, IntegrityError)):
        async with uow() as tx:
            await tx.users.add(make_user("Mixed@Example.com"))
    async with uow(read_only=True) as tx:
        assert (await tx.users.search(query=None, limit=10, offset=0))[1] == 0


async def test_search_matches_email_or_name_case_insensitively_newest_first(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    people = [
        make_user("ada@example.com", display_name="Ada Lovelace", created_at=NOW),
        make_user("grace@navy.mil", display_name="Grace Hopper", created_at=NOW + timedelta(minutes=1)),
        make_user("alan@example.com", display_name="Alan Turing", created_at=NOW + timedelta(minutes=2)),
    ]
    async with uow() as tx:
        for person in people:
            await tx.users.add(person)
    async with uow(read_only=True) as tx:
        by_domain, domain_total = await tx.users.search(query="EXAMPLE", limit=10, offset=0)
        by_name, name_total = await tx.users.search(query="hopper", limit=10, offset=0)
        everyone, everyone_total = await tx.users.search(query="  ", limit=10, offset=0)
    assert [u.email for u in by_domain] == ["alan@example.com", "ada@example.com"]
    assert domain_total == 2
    assert [u.email for u in by_name] == ["grace@navy.mil"]
    assert name_total == 1
    assert [u.email for u in everyone] == ["alan@example.com", "grace@navy.mil", "ada@example.com"]
    assert everyone_total == 3


async def test_search_takes_wildcards_literally(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    async with uow() as tx:
        await tx.users.add(make_user("percent@example.com", display_name="100% sure"))
        await tx.users.add(make_user("under_score@example.com", display_name="Plain"))
        await tx.users.add(make_user("other@example.com", display_name="1000 things"))
        await tx.users.add(make_user("back@example.com", display_name="back\\slash"))
    async with uow(read_only=True) as tx:
        percent, _ = await tx.users.search(query="0%", limit=10, offset=0)
        underscore, _ = await tx.users.search(query="r_s", limit=10, offset=0)
        any_char, any_total = await tx.users.search(query="_", limit=10, offset=0)
        backslash, _ = await tx.users.search(query="k\\s", limit=10, offset=0)
    assert [u.email for u in percent] == ["percent@example.com"]
    assert [u.email for u in underscore] == ["under_score@example.com"]
    assert [u.email for u in any_char] == ["under_score@example.com"]
    assert any_total == 1
    assert [u.email for u in backslash] == ["back@example.com"]


async def test_search_pages_through_every_match_once(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    async with uow() as tx:
        for n in range(7):
            await tx.users.add(make_user(f"user{n}@example.com", created_at=NOW + timedelta(seconds=n)))
    seen: list[str] = []
    async with uow(read_only=True) as tx:
        for offset in (0, 3, 6, 9):
            page, total = await tx.users.search(query="user", limit=3, offset=offset)
            assert total == 7
            seen.extend(u.email for u in page)
    assert seen == [f"user{n}@example.com" for n in reversed(range(7))]


# --- refresh tokens ---------------------------------------------------------------------------


async def test_a_refresh_token_is_found_by_its_hash_and_rotation_is_saved(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    first = start_session(user, "hash-1")
    async with uow() as tx:
        await tx.refresh_tokens.add(first)
    later = NOW + timedelta(minutes=5)
    async with uow() as tx:
        current = await tx.refresh_tokens.get_by_hash("hash-1")
        assert current == first
        successor = current.rotate(successor_hash="hash-2", successor_id=uuid7(), now=later, lifetime=LIFETIME)
        await tx.refresh_tokens.save(current)
        await tx.refresh_tokens.add(successor)
    async with uow(read_only=True) as tx:
        used = await tx.refresh_tokens.get_by_hash("hash-1")
        fresh = await tx.refresh_tokens.get_by_hash("hash-2")
        unknown = await tx.refresh_tokens.get_by_hash("hash-3")
    assert used is not None
    assert used.used_at == later
    assert fresh is not None
    assert (fresh.family_id, fresh.used_at, fresh.expires_at) == (first.family_id, None, later + LIFETIME)
    assert unknown is None
    with pytest.raises(RefreshTokenReused):
        used.check_usable(later)


async def test_revoking_a_family_leaves_other_sessions_alone(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    other_user = await stored_user(uow, make_user("grace@example.com"))
    session_a = start_session(user, "a-1")
    session_a2 = dataclasses.replace(session_a, id=uuid7(), token_hash="a-2")  # its successor
    session_b = start_session(user, "b-1")
    session_c = start_session(other_user, "c-1")
    async with uow() as tx:
        for token in (session_a, session_a2, session_b, session_c):
            await tx.refresh_tokens.add(token)
    async with uow() as tx:
        assert await tx.refresh_tokens.revoke_family(session_a.family_id, NOW) == 2
        assert await tx.refresh_tokens.revoke_family(session_a.family_id, NOW) == 0  # already revoked
    async with uow(read_only=True) as tx:
        revoked = [await tx.refresh_tokens.get_by_hash(h) for h in ("a-1", "a-2", "b-1", "c-1")]
    assert [t.revoked_at is not None for t in revoked if t] == [True, True, False, False]


async def test_ended_families_are_a_users_sessions_revoked_since_a_time(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    other_user = await stored_user(uow, make_user("grace@example.com"))
    old, recent, live, others = (
        start_session(u, h) for u, h in ((user, "o"), (user, "r"), (user, "l"), (other_user, "x"))
    )
    recent2 = dataclasses.replace(recent, id=uuid7(), token_hash="r-2")  # two rows of one family: listed once
    async with uow() as tx:
        for token in (old, recent, recent2, live, others):
            await tx.refresh_tokens.add(token)
    async with uow() as tx:
        await tx.refresh_tokens.revoke_family(old.family_id, NOW - timedelta(hours=1))
        await tx.refresh_tokens.revoke_family(recent.family_id, NOW)
        await tx.refresh_tokens.revoke_family(others.family_id, NOW)
    async with uow(read_only=True) as tx:
        assert await tx.refresh_tokens.ended_families(user.id, since=NOW - timedelta(minutes=20)) == [recent.family_id]
        assert await tx.refresh_tokens.ended_families(user.id, since=NOW - timedelta(days=1)) == sorted(
            [old.family_id, recent.family_id]
        )
        assert await tx.refresh_tokens.ended_families(user.id, since=NOW + timedelta(seconds=1)) == []


async def test_revoking_all_of_a_users_sessions_can_keep_one_and_counts_sessions(
    uow: SqlAlchemyUnitOfWorkFactory,
) -> None:
    user = await stored_user(uow)
    other_user = await stored_user(uow, make_user("grace@example.com"))
    kept, dropped, others = start_session(user, "kept"), start_session(user, "dropped"), start_session(other_user, "x")
    # The dropped session was refreshed once: a used token and its live successor, one session.
    dropped_next = dropped.rotate(successor_hash="dropped-2", successor_id=uuid7(), now=NOW, lifetime=LIFETIME)
    async with uow() as tx:
        for token in (kept, dropped, dropped_next, others):
            await tx.refresh_tokens.add(token)
    async with uow() as tx:
        assert await tx.refresh_tokens.revoke_all_for_user(user.id, NOW, except_family=kept.family_id) == 1
    async with uow(read_only=True) as tx:
        states = {h: (await tx.refresh_tokens.get_by_hash(h)) for h in ("kept", "dropped", "dropped-2", "x")}
    assert {h: t.revoked_at is not None for h, t in states.items() if t} == {
        "kept": False,
        "dropped": True,
        "dropped-2": True,
        "x": False,
    }
    async with uow() as tx:
        assert await tx.refresh_tokens.revoke_all_for_user(user.id, NOW) == 1
        assert await tx.refresh_tokens.revoke_all_for_user(user.id, NOW) == 0


async def test_expired_refresh_tokens_are_deleted_in_batches(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    async with uow() as tx:
        for n in range(5):
            await tx.refresh_tokens.add(start_session(user, f"old-{n}", lifetime=timedelta(hours=1)))
        await tx.refresh_tokens.add(start_session(user, "live"))
    later = NOW + timedelta(days=1)
    async with uow() as tx:
        assert await tx.refresh_tokens.delete_expired(later, batch_size=3) == 3
        assert await tx.refresh_tokens.delete_expired(later, batch_size=3) == 2
        assert await tx.refresh_tokens.delete_expired(later, batch_size=3) == 0
    async with uow(read_only=True) as tx:
        assert await tx.refresh_tokens.get_by_hash("live") is not None
        assert await tx.refresh_tokens.get_by_hash("old-0") is None


async def _rotate(uow: SqlAlchemyUnitOfWorkFactory, token_hash: str, successor_hash: str) -> str:
    """What a refresh does: read the token (locked), rotate it, store the successor, commit."""
    try:
        async with uow() as tx:
            current = await tx.refresh_tokens.get_by_hash(token_hash)
            assert current is not None
            successor = current.rotate(successor_hash=successor_hash, successor_id=uuid7(), now=NOW, lifetime=LIFETIME)
            await asyncio.sleep(0)  # let the others run between the read and the write
            await tx.refresh_tokens.save(current)
            await tx.refresh_tokens.add(successor)
            return "rotated"
    except RefreshTokenReused:
        return "reused"


async def test_two_concurrent_refreshes_of_one_token_rotate_it_once(
    uow: SqlAlchemyUnitOfWorkFactory, migrated_settings: Settings
) -> None:
    user = await stored_user(uow)
    async with uow() as tx:
        await tx.refresh_tokens.add(start_session(user, "shared"))

    async with uow() as holder:
        # The first refresh reads (and on PostgreSQL locks) the token and has not committed yet.
        current = await holder.refresh_tokens.get_by_hash("shared")
        assert current is not None
        second = asyncio.create_task(_rotate(uow, "shared", "second-successor"))
        if migrated_settings.database.backend == "postgresql":
            await _wait_until_blocked_or_done(uow, second)
        else:
            # SQLite lets one writer in at a time: the second waits for the first to finish.
            await asyncio.sleep(0.05)
            assert not second.done()
        successor = current.rotate(successor_hash="first-successor", successor_id=uuid7(), now=NOW, lifetime=LIFETIME)
        await holder.refresh_tokens.save(current)
        await holder.refresh_tokens.add(successor)

    assert await asyncio.wait_for(second, 10) == "reused"
    async with uow(read_only=True) as tx:
        assert await tx.refresh_tokens.get_by_hash("first-successor") is not None
        assert await tx.refresh_tokens.get_by_hash("second-successor") is None


async def _wait_until_blocked_or_done(uow: SqlAlchemyUnitOfWorkFactory, task: asyncio.Task[str]) -> None:
    """Until the task waits on a row lock (or has finished: then it did not wait, and lost the race)."""
    for _ in range(200):
        if task.done():
            return
        async with uow(read_only=True) as tx:
            waiting = await tx.session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if waiting:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the second refresh neither waited for the lock nor finished")


async def test_concurrent_refreshes_without_coordination_let_exactly_one_win(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    async with uow() as tx:
        await tx.refresh_tokens.add(start_session(user, "burst"))
    outcomes = await asyncio.gather(
        *(_rotate(uow, "burst", f"successor-{n}") for n in range(5)), return_exceptions=True
    )
    assert sorted(str(o) for o in outcomes) == ["reused"] * 4 + ["rotated"]


# --- API keys ---------------------------------------------------------------------------------


async def test_api_keys_are_stored_listed_per_user_and_revoked(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    other_user = await stored_user(uow, make_user("grace@example.com"))

    def key(owner: User, name: str, digest: str, minutes: int) -> ApiKey:
        return ApiKey(
            id=uuid7(),
            user_id=owner.id,
            name=name,
            prefix="pk_abcdefgh",
            key_hash=digest,
            created_at=NOW + timedelta(minutes=minutes),
            expires_at=NOW + timedelta(days=90),
        )

    ci, laptop, theirs = key(user, "ci", "d-1", 1), key(user, "laptop", "d-2", 2), key(other_user, "x", "d-3", 0)
    async with uow() as tx:
        for k in (laptop, ci, theirs):
            await tx.api_keys.add(k)
    async with uow() as tx:
        found = await tx.api_keys.get_by_hash("d-1")
        assert found == ci
        found.last_used_at = NOW + timedelta(hours=1)
        found.revoke(NOW + timedelta(hours=2))
        await tx.api_keys.save(found)
    async with uow(read_only=True) as tx:
        mine = await tx.api_keys.list_for_user(user.id)
        by_id = await tx.api_keys.get(ci.id)
        assert await tx.api_keys.get(uuid.uuid4()) is None
        assert await tx.api_keys.get_by_hash("nope") is None
    assert [k.name for k in mine] == ["ci", "laptop"]
    assert by_id is not None
    assert by_id.last_used_at == NOW + timedelta(hours=1)
    assert not by_id.is_usable(NOW + timedelta(hours=3))


async def test_two_keys_with_one_digest_are_refused(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    with pytest.raises(IntegrityError):  # noqa: PT012 - the second insert of the transaction fails
        async with uow() as tx:
            for _ in range(2):
                await tx.api_keys.add(
                    ApiKey(id=uuid7(), user_id=user.id, name="k", prefix="pk_x", key_hash="same", created_at=NOW)
                )
