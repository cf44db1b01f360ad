"""Domain events: their wire form, the budget thresholds, preferences and audiences (pure rules)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from src.application.shared.events import DISPATCH_EVENT_JOB, EVENT_TYPES, UnknownEvent, decode_event, encode_event
from src.domain.identity.events import ApiKeyCreated
from src.domain.knowledge.events import ParagraphsFetched
from src.domain.notifications.errors import InvalidAnnouncement, InvalidPreferences
from src.domain.notifications.model import Audience, Category, ChannelChoice, Preferences, check_announcement
from src.domain.shared.events import DomainEvent
from src.domain.usage.events import alert_floor, thresholds_reached

NOW = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)


def test_every_listed_event_survives_the_trip_through_the_outbox_payload() -> None:
    event = ApiKeyCreated(
        event_id=uuid.uuid4(),
        occurred_at=NOW,
        user_id=uuid.uuid4(),
        key_id=uuid.uuid4(),
        name="ci",
        prefix="pk_abcdefgh",
    )
    payload = encode_event(event)
    assert payload["type"] == "ApiKeyCreated"
    assert decode_event(payload) == event
    fetched = ParagraphsFetched(event_id=uuid.uuid4(), occurred_at=NOW, user_id=uuid.uuid4(), paragraph_ids=("a", "b"))
    assert decode_event(encode_event(fetched)) == fetched
    assert len(EVENT_TYPES) >= 10
    assert DISPATCH_EVENT_JOB == "dispatch_event"


def test_an_unknown_event_type_is_refused_both_ways() -> None:
    with pytest.raises(UnknownEvent):
        decode_event({"type": "SomethingElse", "event": {}})

    class Stray(DomainEvent):
        pass

    with pytest.raises(UnknownEvent):
        encode_event(Stray(event_id=uuid.uuid4(), occurred_at=NOW))


def test_events_need_aware_times() -> None:
    with pytest.raises(ValueError, match="timezone"):
        ParagraphsFetched(
            event_id=uuid.uuid4(), occurred_at=datetime(2026, 1, 1), user_id=uuid.uuid4(), paragraph_ids=()
        )


@pytest.mark.parametrize(
    ("spent", "budget", "expected"),
    [
        (0, 100, []),
        (79, 100, []),
        (80, 100, [80]),
        (99, 100, [80]),
        (100, 100, [80, 100]),
        (500, 100, [80, 100]),
        (0, 0, []),
        (10, 0, []),
    ],
)
def test_budget_thresholds(spent: int, budget: int, expected: list[int]) -> None:
    assert thresholds_reached(spent_micros=spent, budget_micros=budget) == expected


@pytest.mark.parametrize("budget", [0, -5, 1, 3, 99, 100, 101, 1_234_567, 5_000_000])
def test_the_alert_floor_is_where_the_first_threshold_is_reached(budget: int) -> None:
    """A charge stored by one statement raises its alert from ``alert_floor`` on: the very spending from
    which ``thresholds_reached`` reports a threshold (none for a budget of zero)."""
    floor = alert_floor(budget)
    if budget <= 0:
        assert floor is None
        return
    assert floor is not None
    assert thresholds_reached(spent_micros=floor, budget_micros=budget)
    assert not thresholds_reached(spent_micros=floor - 1, budget_micros=budget)


def test_preferences_default_and_change_per_channel() -> None:
    prefs = Preferences()
    assert prefs.of(Category.CONTENT) == ChannelChoice(in_app=True, email=False)
    changed = prefs.updated({"content": {"email": True}, "budget": {"in_app": False}})
    assert changed.of(Category.CONTENT) == ChannelChoice(in_app=True, email=True)
    assert changed.of(Category.BUDGET) == ChannelChoice(in_app=False, email=True)
    assert changed.of(Category.SYSTEM) == prefs.of(Category.SYSTEM)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"marketing": {"email": False}}, "unknown category"),
        ({"content": {"sms": True}}, "unknown channel"),
        ({"content": {"email": "yes"}}, "true or false"),
        ({"content": True}, "expected an object"),
        ({"security": {"email": False}}, "cannot be turned off"),
    ],
)
def test_bad_preferences_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidPreferences, match=message):
        Preferences().updated(changes)  # type: ignore[arg-type]


def test_security_mail_stays_on_even_if_stored_off() -> None:
    stored = Preferences({Category.SECURITY: ChannelChoice(in_app=False, email=False)})
    assert stored.of(Category.SECURITY) == ChannelChoice(in_app=False, email=True)


def test_audiences() -> None:
    assert str(Audience.parse("all")) == "all"
    assert Audience.parse("role:admin") == Audience("role", "admin")
    assert Audience.parse(" tier:pro ") == Audience("tier", "pro")
    for bad in ("everyone", "role:king", "tier:", "group:x", "role:member"):
        with pytest.raises(InvalidAnnouncement):
            Audience.parse(bad)
    # An event recorded before roles were split names members, who are creators now.
    assert Audience.from_published("role:member") == Audience("role", "creator")
    assert Audience.from_published("role:viewer") == Audience("role", "viewer")
    with pytest.raises(InvalidAnnouncement):
        Audience.from_published("role:king")
    with pytest.raises(InvalidAnnouncement):
        check_announcement("  ", "body")
    assert check_announcement("  Big   news ", " body \n") == ("Big news", "body")
