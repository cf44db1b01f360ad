"""The admin console's domain: audit events, the follow cursor, moderation items' resolution rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from src.application.shared.ids import new_id
from src.domain.admin.audit import AuditAction, AuditActor, AuditEvent, AuditTarget, first_id_at
from src.domain.admin.moderation import AlreadyResolved, InvalidReport, InvalidResolution, clean_report_reason
from src.domain.ai.moderation_queue import (
    MAX_RESOLUTION_NOTE,
    ModerationAction,
    ModerationItem,
    ModerationItemKind,
    ModerationItemStatus,
)

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def item(kind: ModerationItemKind = ModerationItemKind.ARTICLE) -> ModerationItem:
    return ModerationItem(
        id=uuid.uuid4(),
        kind=kind,
        target_id=uuid.uuid4(),
        user_id=None,
        reasons=("moderation:spam",),
        excerpt="buy now",
        status=ModerationItemStatus.OPEN,
        created_at=NOW,
    )


def test_an_event_names_how_its_actor_signed_in_and_stringifies_its_target() -> None:
    target = uuid.uuid4()
    event = AuditEvent.of(
        id=uuid.uuid4(),
        at=NOW,
        actor=AuditActor(user_id=None, ip="192.0.2.1", via="system"),
        action=AuditAction.USER_TIER_CHANGED,
        target_type=AuditTarget.USER,
        target_id=target,
        data={"from": "free", "to": "pro"},
    )
    assert event.target_id == str(target)
    assert event.data == {"from": "free", "to": "pro", "via": "system"}


def test_the_follow_cursor_sorts_before_every_id_of_its_millisecond_and_after_earlier_ones() -> None:
    cursor = first_id_at(NOW)
    assert all(new_id(NOW) > cursor for _ in range(100))
    assert all(new_id(NOW - timedelta(milliseconds=1)) < cursor for _ in range(100))
    assert cursor.version == 7


def test_resolving_records_the_decision_once() -> None:
    moderator = uuid.uuid4()
    resolved = item().resolve(ModerationAction.HIDE, by=moderator, note="  spam,   twice ", now=NOW)
    assert resolved.status is ModerationItemStatus.RESOLVED
    assert (resolved.resolution, resolved.resolved_by, resolved.resolved_at) == (ModerationAction.HIDE, moderator, NOW)
    assert resolved.resolution_note == "spam, twice"
    with pytest.raises(AlreadyResolved):
        resolved.resolve(ModerationAction.DISMISS, by=moderator, note=None, now=NOW)


@pytest.mark.parametrize("kind", [ModerationItemKind.PASSAGE, ModerationItemKind.TOOL_INPUT])
def test_only_stored_content_can_be_hidden_or_deleted(kind: ModerationItemKind) -> None:
    for action in (ModerationAction.HIDE, ModerationAction.DELETE):
        with pytest.raises(InvalidResolution):
            item(kind).resolve(action, by=None, note=None, now=NOW)
    assert (
        item(kind).resolve(ModerationAction.DISMISS, by=None, note=None, now=NOW).resolution is ModerationAction.DISMISS
    )


def test_a_note_has_a_length_limit_and_a_report_needs_a_reason() -> None:
    with pytest.raises(InvalidResolution):
        item().resolve(ModerationAction.DISMISS, by=None, note="x" * (MAX_RESOLUTION_NOTE + 1), now=NOW)
    with pytest.raises(InvalidReport):
        clean_report_reason(" \n ")
    assert clean_report_reason(" rude \n reply ") == "rude reply"


def test_each_report_counts_and_adds_its_reason_once() -> None:
    twice = item().reported().reported()
    assert twice.report_count == 2
    assert twice.reasons == ("moderation:spam", "user_report")
