"""The identity events the notifications context hears of, each written with the change that caused it."""

from __future__ import annotations

from typing import Any

import pytest

from src.application.identity.change_password import ChangePasswordCommand
from src.application.identity.create_api_key import CreateApiKeyCommand
from src.application.identity.refresh_session import RefreshSessionCommand
from src.application.identity.reset_password import ResetPasswordCommand
from src.application.shared.events import DISPATCH_EVENT_JOB
from src.domain.identity.errors import RefreshTokenReused
from src.domain.identity.model import Role
from tests.unit.identity.conftest import PASSWORD, World

NEW_PASSWORD = "amber-quarry-window-41"


def events(world: World, kind: str) -> list[dict[str, Any]]:
    return [
        m.payload["event"]
        for m in world.db.shared.outbox.values()
        if m.job_name == DISPATCH_EVENT_JOB and m.payload["type"] == kind
    ]


async def test_sign_up_password_changes_and_api_keys_raise_their_events(world: World) -> None:
    principal, _ = await world.session()
    (registered,) = events(world, "UserRegistered")
    assert registered["user_id"] == str(principal.user_id)
    await world.change_password(principal, ChangePasswordCommand(PASSWORD, NEW_PASSWORD))
    (changed,) = events(world, "PasswordChanged")
    assert changed["by"] == "self"
    admin, _ = await world.session("root@example.com", role=Role.ADMIN)
    await world.reset_password(admin, ResetPasswordCommand(principal.user_id, PASSWORD))
    assert [e["by"] for e in events(world, "PasswordChanged")] == ["self", "admin"]
    created = await world.create_key(principal, CreateApiKeyCommand("ci"))
    (key,) = events(world, "ApiKeyCreated")
    assert (key["key_id"], key["name"], key["prefix"]) == (str(created.key.id), "ci", created.key.prefix)


async def test_a_refused_password_change_raises_nothing(world: World) -> None:
    principal, _ = await world.session()
    with pytest.raises(Exception, match="wrong"):
        await world.change_password(principal, ChangePasswordCommand("not-the-password", NEW_PASSWORD))
    assert events(world, "PasswordChanged") == []


async def test_a_reused_refresh_token_raises_the_theft_event_with_the_revocation(world: World) -> None:
    principal, _ = await world.session()
    stolen = await world.login()
    await world.refresh(RefreshSessionCommand(stolen.refresh_token))
    with pytest.raises(RefreshTokenReused):
        await world.refresh(RefreshSessionCommand(stolen.refresh_token))
    (reuse,) = events(world, "RefreshTokenReuseDetected")
    assert reuse["user_id"] == str(principal.user_id)
