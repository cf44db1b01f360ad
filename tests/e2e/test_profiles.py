"""Profiles and roles through a real ``parley serve`` (the embedded defaults: SQLite and the local files
folder), as a browser and an admin see them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunCli
from tests.e2e.identity_client import ADMIN_EMAIL, ADMIN_PASSWORD, bearer, register, serve, sign_in
from tests.images import decode, jpeg_with_exif

pytestmark = pytest.mark.e2e


def test_a_creator_sets_a_profile_an_admin_makes_them_a_viewer(
    run_cli: RunCli, start_server: Any, var_dir: Path
) -> None:
    server = serve(run_cli, start_server)
    with httpx.Client(base_url=server.base_url, timeout=20) as client:
        ada = register(client, "ada@example.com")
        assert (ada["role"], ada["bio"], ada["avatar_url"]) == ("creator", "", None)
        token = sign_in(client, "ada@example.com")["access_token"]

        profile = client.patch("/api/v1/users/me", json={"bio": "Engines and poetry."}, headers=bearer(token))
        assert profile.status_code == 200, profile.text
        uploaded = client.put(
            "/api/v1/users/me/avatar",
            content=jpeg_with_exif(),
            headers={**bearer(token), "Content-Type": "image/jpeg"},
        )
        assert uploaded.status_code == 200, uploaded.text
        url = uploaded.json()["avatar_url"]
        assert uploaded.json()["bio"] == "Engines and poetry."

        # What a browser's <img src> does: no credentials, then a revalidation with the ETag.
        picture = httpx.get(server.base_url + url, timeout=10)
        assert picture.status_code == 200, picture.text
        assert decode(picture.content).size == (256, 256)
        assert b"SpyCam" not in picture.content
        assert picture.headers["cache-control"] == "public, max-age=31536000, immutable"
        again = httpx.get(server.base_url + url, headers={"If-None-Match": picture.headers["etag"]}, timeout=10)
        assert again.status_code == 304
        # The pictures are in the files folder under the var dir, as WebP.
        stored = sorted(p.name for p in (var_dir / "files" / "avatars" / ada["id"]).iterdir())
        assert [name.rsplit("-", 1)[1] for name in stored] == ["256.webp", "64.webp"]

        admin = sign_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)["access_token"]
        made = client.patch(f"/api/v1/admin/users/{ada['id']}", json={"role": "viewer"}, headers=bearer(admin))
        assert made.status_code == 200, made.text
        assert made.json()["role"] == "viewer"
        old_member = client.patch(f"/api/v1/admin/users/{ada['id']}", json={"role": "member"}, headers=bearer(admin))
        assert old_member.status_code == 422

        token = sign_in(client, "ada@example.com")["access_token"]
        article = {"title": "For all", "body": "Hello", "status": "published", "visibility": "public"}
        refused = client.post("/api/v1/articles", json=article, headers=bearer(token))
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "forbidden"

        removed = client.delete("/api/v1/users/me/avatar", headers=bearer(token))
        assert removed.status_code == 204
        assert httpx.get(server.base_url + url, timeout=10).status_code == 404
        assert not list((var_dir / "files" / "avatars" / ada["id"]).iterdir())
