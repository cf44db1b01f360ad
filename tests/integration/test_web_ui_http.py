"""The web app's backend: the built UI at ``/``, the CDN-free documentation viewers, browser sessions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from src.infrastructure.settings import Settings
from src.interfaces.http.app import create_app
from tests.conftest import SettingsFactory

PASSWORD = "correct horse battery staple"
APP_CSP_PARTS = ("script-src 'self'", "default-src 'self'", "frame-ancestors 'none'", "object-src 'none'")


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A web build as `npm run build` lays it out (hashed assets, the docs viewers' vendor files)."""
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "docs-assets").mkdir()
    (root / "index.html").write_text('<!doctype html><div id="root"></div><script src="/assets/app-3f2a.js"></script>')
    (root / "assets" / "app-3f2a.js").write_text("console.log('parley')")
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / "docs-assets" / "swagger-ui-bundle.js").write_text("window.SwaggerUIBundle = function () {}")
    (root / "docs-assets" / "swagger-ui.css").write_text("body{}")
    (root / "docs-assets" / "scalar-standalone.js").write_text("window.Scalar = {}")
    (tmp_path / "secret.txt").write_text("outside the build")
    return root


async def _migrated(settings: Settings) -> Settings:
    from src.infrastructure.persistence.migrator import Migrator

    await asyncio.to_thread(Migrator(settings).upgrade)
    return settings


ClientFactory = Callable[..., AsyncTestClient[Litestar]]


@pytest.fixture
async def client(
    make_settings: SettingsFactory, sqlite_url: str, dist: Path
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    # development: cookies without Secure, so the test client (plain http) sends them back.
    settings = await _migrated(make_settings(DATABASE_URL=sqlite_url, WEB_DIST_DIR=str(dist), APP_ENV="development"))
    async with AsyncTestClient(create_app(settings), base_url="http://testserver.local") as test_client:
        yield test_client


# -- the app at / -------------------------------------------------------------------------------------


async def test_index_and_client_routes_get_the_app_with_a_strict_csp(client: AsyncTestClient[Litestar]) -> None:
    for path in ("/", "/chat", "/chat/0192f7a0-0000-7000-8000-000000000000", "/settings/keys"):
        page = await client.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        assert '<div id="root">' in page.text
        assert page.headers["cache-control"] == "no-cache"
        csp = page.headers["content-security-policy"]
        for part in APP_CSP_PARTS:
            assert part in csp
        assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]


async def test_hashed_assets_are_cached_for_a_year_other_files_revalidated(client: AsyncTestClient[Litestar]) -> None:
    asset = await client.get("/assets/app-3f2a.js")
    assert asset.status_code == 200
    assert asset.text == "console.log('parley')"
    assert "javascript" in asset.headers["content-type"]
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    icon = await client.get("/favicon.svg")
    assert icon.headers["cache-control"] == "no-cache"
    assert icon.headers["content-type"].startswith("image/svg+xml")


async def test_missing_files_and_escapes_are_404_not_the_app(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get("/assets/gone-1234.js")).status_code == 404
    assert (await client.get("/logo.png")).status_code == 404
    for sneaky in ("/..%2Fsecret.txt", "/assets/..%2F..%2Fsecret.txt", "/%2e%2e/secret.txt"):
        response = await client.get(sneaky)
        assert "outside the build" not in response.text, sneaky


async def test_api_prefixes_keep_their_own_answers(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get("/health")).json()["status"] == "ok"
    assert (await client.get("/ready")).status_code == 200
    assert (await client.get("/schema/openapi.json")).json()["openapi"].startswith("3.1")
    # Litestar's documentation router answers its own unknown paths (a 404 page), never with the app.
    schema_miss = await client.get("/schema/nothing")
    assert schema_miss.status_code == 404
    assert '<div id="root">' not in schema_miss.text
    for path in ("/api/v1/nowhere", "/api", "/health/x"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/problem+json"), path
    # The OpenAI-compatible surface answers in OpenAI's error shape, never with the app.
    gateway_miss = await client.get("/v1/models-that-do-not-exist")
    assert gateway_miss.status_code in (401, 404)
    assert "error" in gateway_miss.json()
    assert '<div id="root">' not in gateway_miss.text
    api = await client.get("/api/v1/users/me")
    assert api.status_code == 401
    assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    metrics = await client.get("/metrics")
    assert '<div id="root">' not in metrics.text


async def test_without_a_build_the_api_is_served_alone(
    make_settings: SettingsFactory, sqlite_url: str, tmp_path: Path
) -> None:
    settings = await _migrated(make_settings(DATABASE_URL=sqlite_url, WEB_DIST_DIR=str(tmp_path / "nothing")))
    async with AsyncTestClient(create_app(settings)) as client:
        assert (await client.get("/")).status_code == 404
        assert (await client.get("/health")).status_code == 200
        viewer = await client.get("/schema/swagger")
        assert viewer.status_code == 200
        assert "/schema/openapi.json" in viewer.text  # says where the schema is instead of a blank page


# -- documentation viewers ---------------------------------------------------------------------------


async def test_doc_viewers_load_everything_from_parley_with_the_app_csp(client: AsyncTestClient[Litestar]) -> None:
    for viewer, assets in (
        ("/schema/swagger", ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-init.js")),
        ("/schema/scalar", ("scalar-standalone.js", "scalar-init.js")),
    ):
        page = await client.get(viewer)
        assert page.status_code == 200
        assert "cdn.jsdelivr" not in page.text
        assert "unpkg" not in page.text
        assert "https://" not in page.text
        assert "<script>" not in page.text  # no inline script: every script has a src
        csp = page.headers["content-security-policy"]
        for part in APP_CSP_PARTS:
            assert part in csp
        for asset in assets:
            assert f'"/schema/assets/{asset}"' in page.text
            served = await client.get(f"/schema/assets/{asset}")
            assert served.status_code == 200, asset
            assert served.text
    assert (await client.get("/schema/assets/other.js")).status_code == 404


# -- browser sessions ---------------------------------------------------------------------------------


async def _register(client: AsyncTestClient[Litestar], email: str = "ada@example.com") -> None:
    response = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Ada"}
    )
    assert response.status_code == 201, response.text


async def _browser_sign_in(client: AsyncTestClient[Litestar]) -> dict[str, str]:
    await _register(client)
    response = await client.post("/api/v1/auth/session", json={"email": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


async def test_browser_sign_in_sets_an_httponly_strict_refresh_cookie_scoped_to_the_session_path(
    client: AsyncTestClient[Litestar],
) -> None:
    body = await _browser_sign_in(client)
    assert "refresh_token" not in body
    assert body["access_token"]
    assert body["csrf_token"]
    me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["email"] == "ada@example.com"


async def test_cookie_attributes(make_settings: SettingsFactory, sqlite_url: str, dist: Path) -> None:
    for app_env, secure in (("development", False), ("test", True), ("production", True)):
        settings = await _migrated(make_settings(DATABASE_URL=sqlite_url, WEB_DIST_DIR=str(dist), APP_ENV=app_env))
        async with AsyncTestClient(create_app(settings)) as client:
            email = f"{app_env}@example.com"
            await _register(client, email)
            response = await client.post("/api/v1/auth/session", json={"email": email, "password": PASSWORD})
            cookies = {h.split("=", 1)[0]: h.lower() for h in response.headers.get_list("set-cookie")}
            refresh = cookies["parley_refresh"]
            assert "httponly" in refresh
            assert "samesite=strict" in refresh
            assert "path=/api/v1/auth/session" in refresh
            assert ("secure" in refresh.split(";")[-1] or "; secure" in refresh) is secure
            assert "httponly" not in cookies["parley_csrf"]  # the page must read it
            assert response.headers["cache-control"] == "no-store"


async def test_refresh_needs_the_csrf_header_and_rotates_the_cookie(client: AsyncTestClient[Litestar]) -> None:
    body = await _browser_sign_in(client)
    first_cookie = client.cookies.get("parley_refresh")
    missing = await client.post("/api/v1/auth/session/refresh")
    assert missing.status_code == 403
    assert missing.json()["code"] == "csrf_failed"
    wrong = await client.post("/api/v1/auth/session/refresh", headers={"X-CSRF-Token": "guess"})
    assert wrong.json()["code"] == "csrf_failed"
    cross_site = await client.post(
        "/api/v1/auth/session/refresh",
        headers={"X-CSRF-Token": body["csrf_token"], "Origin": "https://evil.example"},
    )
    assert cross_site.json()["code"] == "csrf_failed"
    fetch_cross_site = await client.post(
        "/api/v1/auth/session/refresh", headers={"X-CSRF-Token": body["csrf_token"], "Sec-Fetch-Site": "cross-site"}
    )
    assert fetch_cross_site.json()["code"] == "csrf_failed"

    renewed = await client.post(
        "/api/v1/auth/session/refresh",
        headers={"X-CSRF-Token": body["csrf_token"], "Origin": "http://testserver.local"},
    )
    assert renewed.status_code == 200, renewed.text
    assert client.cookies.get("parley_refresh") != first_cookie
    token = renewed.json()["access_token"]
    assert (await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200


async def test_a_replayed_refresh_cookie_ends_the_session_and_clears_the_cookies(
    client: AsyncTestClient[Litestar],
) -> None:
    body = await _browser_sign_in(client)
    stolen = client.cookies.get("parley_refresh")
    csrf = {"X-CSRF-Token": body["csrf_token"]}
    assert (await client.post("/api/v1/auth/session/refresh", headers=csrf)).status_code == 200
    csrf = {"X-CSRF-Token": client.cookies.get("parley_csrf") or ""}
    client.cookies.set("parley_refresh", stolen or "", path="/api/v1/auth/session")
    replay = await client.post("/api/v1/auth/session/refresh", headers=csrf)
    assert replay.status_code == 401
    assert replay.json()["code"] == "refresh_token_reused"
    assert any("parley_refresh=" in h and "max-age=0" in h.lower() for h in replay.headers.get_list("set-cookie"))


async def test_without_a_cookie_refresh_is_no_session(client: AsyncTestClient[Litestar]) -> None:
    client.cookies.set("parley_csrf", "abc")
    response = await client.post("/api/v1/auth/session/refresh", headers={"X-CSRF-Token": "abc"})
    assert response.status_code == 401
    assert response.json()["code"] == "no_session"


async def test_browser_sign_out_revokes_the_session(client: AsyncTestClient[Litestar]) -> None:
    body = await _browser_sign_in(client)
    cookie = client.cookies.get("parley_refresh")
    refused = await client.delete("/api/v1/auth/session")
    assert refused.status_code == 403  # no CSRF header: nothing happens
    signed_out = await client.delete(
        "/api/v1/auth/session",
        headers={"X-CSRF-Token": body["csrf_token"], "Authorization": f"Bearer {body['access_token']}"},
    )
    assert signed_out.status_code == 204
    assert client.cookies.get("parley_refresh") is None
    client.cookies.set("parley_refresh", cookie or "", path="/api/v1/auth/session")
    client.cookies.set("parley_csrf", "x")
    again = await client.post("/api/v1/auth/session/refresh", headers={"X-CSRF-Token": "x"})
    assert again.status_code == 401


async def test_wrong_password_is_refused_without_cookies(client: AsyncTestClient[Litestar]) -> None:
    await _register(client)
    response = await client.post("/api/v1/auth/session", json={"email": "ada@example.com", "password": "nope-nope-1"})
    assert response.status_code == 403
    assert response.json()["code"] == "invalid_credentials"
    assert not response.headers.get_list("set-cookie")
