"""Profiles and roles through the whole app (in this process), the database and a real file store (the
local folder, and S3-compatible object storage on moto's server): bio, avatar upload, serving with caching
headers, removal; and what each role may do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from src.infrastructure.container import Container, build_container
from src.infrastructure.persistence.migrator import Migrator
from src.interfaces.http.app import create_app
from tests.accounts import sign_up
from tests.conftest import SettingsFactory
from tests.images import decode, jpeg_with_exif, png
from tests.integration.files.conftest import S3Server

PASSWORD = "violet-harbour-lantern-93"
ADMIN = "root@example.com"


@dataclass
class Api:
    client: httpx.AsyncClient
    container: Container
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def me(self, who: str = "ada") -> dict[str, Any]:
        response = await self.client.get("/api/v1/users/me", headers=self.auth(who))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def sign_in(self, who: str) -> None:
        signed_in = await self.client.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": f"{who}@example.com", "password": PASSWORD},
        )
        assert signed_in.status_code == 200, signed_in.text
        self.tokens[who] = signed_in.json()["access_token"]


@pytest.fixture(params=["local", "s3"])
async def api(request: pytest.FixtureRequest, make_settings: SettingsFactory, sqlite_url: str) -> AsyncIterator[Api]:
    files: dict[str, str] = {}
    if request.param == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        files = {
            "FILES_URL": f"s3://{server.new_bucket()}/avatars-test",
            "FILES_S3_ENDPOINT": server.endpoint,
            "FILES_S3_ACCESS_KEY_ID": "test",
            "FILES_S3_SECRET_ACCESS_KEY": "test",
        }
    settings = make_settings(
        DATABASE_URL=sqlite_url, RATE_LIMIT_ENABLED="false", ADMIN_EMAIL=ADMIN, ADMIN_PASSWORD=PASSWORD, **files
    )
    await asyncio.to_thread(Migrator(settings).upgrade)
    container = build_container(settings, role="api")
    await container.startup()
    transport = httpx.ASGITransport(app=create_app(settings, container=container))  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://parley.test", timeout=20) as client:
            tokens = await sign_up(client, ("ada", "bob"), PASSWORD)
            api = Api(client, container, tokens)
            await api.sign_in("root")
            yield api
    finally:
        await container.shutdown()


async def test_bio_is_set_shown_and_checked(api: Api) -> None:
    me = await api.me()
    assert (me["bio"], me["avatar_url"], me["role"]) == ("", None, "creator")

    changed = await api.client.patch(
        "/api/v1/users/me", json={"bio": " Writes about engines.\n"}, headers=api.auth("ada")
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["bio"], changed.json()["display_name"]) == ("Writes about engines.", "ada")

    for body, code in (
        ({"bio": "x" * 501}, "invalid_bio"),
        ({"bio": "a\u0000b"}, "validation_failed"),
        ({"bio": "bell\u0007"}, "invalid_bio"),
        ({"bio": 5}, "validation_failed"),
        ({"about": "x"}, "validation_failed"),
    ):
        refused = await api.client.patch("/api/v1/users/me", json=body, headers=api.auth("ada"))
        assert refused.status_code == 422, (body, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == code, (body, refused.json())
    assert (await api.me())["bio"] == "Writes about engines."


async def test_avatar_upload_serving_caching_and_removal(api: Api) -> None:
    anonymous = await api.client.put("/api/v1/users/me/avatar", content=png())
    assert anonymous.status_code == 401

    # The name and declared type do not matter: the content does.
    uploaded = await api.client.put(
        "/api/v1/users/me/avatar",
        content=jpeg_with_exif(),
        headers={**api.auth("ada"), "Content-Type": "text/plain", "X-File-Name": "me.txt"},
    )
    assert uploaded.status_code == 200, uploaded.text
    user = uploaded.json()
    url = user["avatar_url"]
    assert url.startswith(f"/api/v1/users/{user['id']}/avatar?size=256&v=")
    assert (await api.me())["avatar_url"] == url

    # Anyone may fetch it (an <img src> sends no bearer token); the versioned URL is cached for good.
    served = await api.client.get(url)
    assert served.status_code == 200, served.text
    assert served.headers["content-type"] == "image/webp"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    etag = served.headers["etag"]
    picture = decode(served.content)
    assert (picture.format, picture.size) == ("WEBP", (256, 256))
    assert b"SpyCam" not in served.content  # EXIF gone

    small = await api.client.get(f"/api/v1/users/{user['id']}/avatar", params={"size": 64})
    assert small.status_code == 200
    assert decode(small.content).size == (64, 64)
    assert small.headers["cache-control"] == "public, no-cache"  # no version: check back
    assert small.headers["etag"] != etag

    not_modified = await api.client.get(url, headers={"If-None-Match": f'"other", W/{etag}'})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == etag

    odd = await api.client.get(f"/api/v1/users/{user['id']}/avatar", params={"size": 128})
    assert odd.status_code == 422

    # A new upload changes the URL (and the ETag): caches holding the old picture are bypassed.
    replaced = await api.client.put("/api/v1/users/me/avatar", content=png(), headers=api.auth("ada"))
    assert replaced.status_code == 200
    assert replaced.json()["avatar_url"] != url
    stale = await api.client.get(url, headers={"If-None-Match": etag})
    assert stale.status_code == 200
    assert stale.headers["etag"] != etag
    assert stale.headers["cache-control"] == "public, no-cache"

    removed = await api.client.delete("/api/v1/users/me/avatar", headers=api.auth("ada"))
    assert removed.status_code == 204
    assert (await api.me())["avatar_url"] is None
    gone = await api.client.get(f"/api/v1/users/{user['id']}/avatar")
    assert gone.status_code == 404
    assert gone.json()["code"] == "avatar_not_found"


async def test_uploads_that_are_not_pictures_or_too_large_are_refused(api: Api) -> None:
    for body in (b"", b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100):
        refused = await api.client.put(
            "/api/v1/users/me/avatar", content=body, headers={**api.auth("ada"), "Content-Type": "image/png"}
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "invalid_image"
    huge = await api.client.put(
        "/api/v1/users/me/avatar", content=b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 * 1024 * 1024), headers=api.auth("ada")
    )
    assert huge.status_code == 413
    assert (await api.me())["avatar_url"] is None


async def test_roles_decide_what_each_may_do(api: Api) -> None:
    bob_id = (await api.me("bob"))["id"]
    for role in ("member", "owner", "ADMIN"):
        refused = await api.client.patch(f"/api/v1/admin/users/{bob_id}", json={"role": role}, headers=api.auth("root"))
        assert refused.status_code == 422, (role, refused.text)
    made = await api.client.patch(f"/api/v1/admin/users/{bob_id}", json={"role": "viewer"}, headers=api.auth("root"))
    assert made.status_code == 200, made.text
    assert made.json()["role"] == "viewer"
    await api.sign_in("bob")  # the role change ended bob's access tokens

    article = {"title": "Hello", "body": "For everyone", "status": "published", "visibility": "public"}
    refused = await api.client.post("/api/v1/articles", json=article, headers=api.auth("bob"))
    assert refused.status_code == 403, refused.text
    assert "knowledge:publish" in refused.json()["detail"]
    private = await api.client.post(
        "/api/v1/articles", json={**article, "visibility": "private"}, headers=api.auth("bob")
    )
    assert private.status_code == 201, private.text
    generate = {"template": "social_post", "params": {"topic": "bees", "platform": "x"}}
    refused = await api.client.post("/api/v1/ai/generate", json=generate, headers=api.auth("bob"))
    assert refused.status_code == 403, refused.text

    assert (await api.client.post("/api/v1/articles", json=article, headers=api.auth("ada"))).status_code == 201
    assert (await api.client.post("/api/v1/ai/generate", json=generate, headers=api.auth("ada"))).status_code == 200

    # A moderator manages no users.
    made = await api.client.patch(f"/api/v1/admin/users/{bob_id}", json={"role": "moderator"}, headers=api.auth("root"))
    assert made.status_code == 200
    await api.sign_in("bob")
    assert (await api.client.get("/api/v1/admin/users", headers=api.auth("bob"))).status_code == 403


async def test_the_user_json_lists_what_the_role_allows(api: Api) -> None:
    """Clients decide what to show from ``permissions``, never from the role's name."""
    creator = await api.me("ada")
    assert creator["role"] == "creator"
    assert creator["permissions"] == sorted(creator["permissions"])
    assert {"chat:use", "knowledge:publish", "ai:generate"} <= set(creator["permissions"])
    assert not {"moderation:manage", "analytics:read", "users:manage", "audit:read"} & set(creator["permissions"])
    admin = await api.me("root")
    assert {"moderation:manage", "analytics:read", "users:manage", "audit:read"} <= set(admin["permissions"])
    bob_id = (await api.me("bob"))["id"]
    made = await api.client.patch(f"/api/v1/admin/users/{bob_id}", json={"role": "moderator"}, headers=api.auth("root"))
    assert made.status_code == 200, made.text
    assert {"moderation:manage", "analytics:read"} <= set(made.json()["permissions"])
    assert "users:manage" not in made.json()["permissions"]
