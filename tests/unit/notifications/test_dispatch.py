"""DispatchEvent: each handler at least once, recorded, failures isolated and retried alone."""

from __future__ import annotations

import uuid

import pytest

from src.application.identity.register_user import RegisterUser, RegisterUserCommand
from src.application.shared.dispatch_event import EventHandler, EventHandlersFailed
from src.application.shared.events import DISPATCH_EVENT_JOB, encode_event
from src.domain.identity.events import PasswordChanged, UserRegistered
from src.domain.identity.model import Role, Tier
from tests.fakes.identity import FakeCommonPasswords, FakePasswordHasher
from tests.unit.notifications.conftest import World


def _event(world: World) -> PasswordChanged:
    return PasswordChanged(event_id=uuid.uuid4(), occurred_at=world.clock.now(), user_id=uuid.uuid4())


async def test_every_handler_runs_once_and_a_redelivery_is_skipped(world: World) -> None:
    calls: list[str] = []

    async def first(event: PasswordChanged) -> None:
        calls.append(f"first:{event.user_id}")

    async def second(event: PasswordChanged) -> None:
        calls.append("second")

    dispatch = world.dispatcher({PasswordChanged: [EventHandler("a.first", first), EventHandler("b.second", second)]})
    event = _event(world)
    result = await dispatch(encode_event(event))
    assert result.handled == ["a.first", "b.second"]
    assert calls == [f"first:{event.user_id}", "second"]
    again = await dispatch(encode_event(event))
    assert again.skipped == ["a.first", "b.second"]
    assert calls == [f"first:{event.user_id}", "second"]
    assert [(t, o) for t, o, _ in world.observer.seen] == [
        ("PasswordChanged", "handled"),
        ("PasswordChanged", "duplicate"),
    ]


async def test_a_failing_handler_does_not_stop_the_others_and_only_it_runs_on_retry(world: World) -> None:
    attempts = {"flaky": 0, "steady": 0}

    async def flaky(_event: PasswordChanged) -> None:
        attempts["flaky"] += 1
        if attempts["flaky"] == 1:
            raise ConnectionRefusedError("smtp said no")

    async def steady(_event: PasswordChanged) -> None:
        attempts["steady"] += 1

    dispatch = world.dispatcher({PasswordChanged: [EventHandler("flaky", flaky), EventHandler("steady", steady)]})
    payload = encode_event(_event(world))
    with pytest.raises(EventHandlersFailed, match="flaky: ConnectionRefusedError: smtp said no"):
        await dispatch(payload)
    assert attempts == {"flaky": 1, "steady": 1}
    assert world.observer.seen[-1][1] == "failed"
    assert world.observer.seen[-1][2]["failed"] == {"flaky": "ConnectionRefusedError: smtp said no"}
    retried = await dispatch(payload)
    assert retried.handled == ["flaky"]
    assert retried.skipped == ["steady"]
    assert attempts == {"flaky": 2, "steady": 1}


async def test_an_event_nobody_listens_to_is_counted_as_unhandled(world: World) -> None:
    await world.dispatcher({})(encode_event(_event(world)))
    assert world.observer.seen[-1][1] == "unhandled"


def test_handler_names_are_unique(world: World) -> None:
    async def noop(_event: object) -> None:
        return None

    with pytest.raises(ValueError, match="unique"):
        world.dispatcher({PasswordChanged: [EventHandler("x", noop)], UserRegistered: [EventHandler("x", noop)]})


async def test_registering_writes_the_event_in_the_same_transaction(world: World) -> None:
    register = RegisterUser(world.uow, FakePasswordHasher(), world.clock, FakeCommonPasswords())
    view = await register(
        RegisterUserCommand("new@example.com", "correct horse battery staple", "New", Role.CREATOR, Tier.FREE)
    )
    (message,) = world.db.shared.outbox.values()
    assert message.job_name == DISPATCH_EVENT_JOB
    assert message.payload["type"] == "UserRegistered"
    assert message.payload["event"]["user_id"] == str(view.id)
