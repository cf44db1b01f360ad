"""Accounts, OAuth2 tokens, sessions and API keys through a real uvicorn, as a client sees them."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import jwt
import pytest

from tests.conftest import TEST_SECRET_KEY
from tests.e2e.conftest import RunCli, Server
from tests.e2e.identity_client import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    NEW_PASSWORD,
    PASSWORD,
    assert_unauthorized,
    bearer,
    me,
    refresh,
    register,
    serve,
    sign_in,
)

pytestmark = pytest.mark.e2e


def client_for(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=10)


def test_register_sign_in_with_form_and_json_and_read_me(run_cli: RunCli, start_server: Any) -> None:
    with client_for(serve(run_cli, start_server)) as client:
        user = register(client, "  Ada@Example.COM ", name="Ada  Lovelace")
        assert user["email"] == "ada@example.com"
        assert user["display_name"] == "Ada Lovelace"
        assert (user["role"], user["tier"], user["is_active"]) == ("creator", "free", True)
        assert "password" not in json.dumps(user)

        taken = client.post(
            "/api/v1/auth/register",
            json={"email": "ada@example.com", "password": PASSWORD, "display_name": "Other"},
        )
        assert taken.status_code == 409
        assert taken.json()["code"] == "email_taken"
        for weak in ("short", "bob@example.com", "password123"):
            refused = client.post(
                "/api/v1/auth/register", json={"email": "bob@example.com", "password": weak, "display_name": "Bob"}
            )
            assert refused.status_code == 422, (weak, refused.text)
            assert refused.json()["code"] == "weak_password"

        form = client.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": "ADA@example.com", "password": PASSWORD, "scope": ""},
        )
        assert form.status_code == 200, form.text
        assert form.headers["cache-control"] == "no-store"
        tokens = form.json()
        assert tokens["token_type"] == "bearer"
        assert tokens["expires_in"] == 900
        assert tokens["refresh_token"]
        assert tokens["access_token"].count(".") == 2

        as_json = client.post(
            "/api/v1/auth/token", json={"grant_type": "password", "username": "ada@example.com", "password": PASSWORD}
        )
        assert as_json.status_code == 200, as_json.text
        assert as_json.json()["refresh_token"] != tokens["refresh_token"]

        profile = me(client, tokens["access_token"])
        assert profile.status_code == 200
        assert profile.json()["id"] == user["id"]
        renamed = client.patch(
            "/api/v1/users/me", json={"display_name": "Countess"}, headers=bearer(tokens["access_token"])
        )
        assert renamed.status_code == 200
        assert me(client, as_json.json()["access_token"]).json()["display_name"] == "Countess"

        assert_unauthorized(client.get("/api/v1/users/me"), token_sent=False)


def test_token_endpoint_errors_follow_rfc_6749(run_cli: RunCli, start_server: Any) -> None:
    with client_for(serve(run_cli, start_server)) as client:
        register(client, "ada@example.com")

        def token(**fields: str) -> httpx.Response:
            return client.post("/api/v1/auth/token", data=fields)

        wrong = token(grant_type="password", username="ada@example.com", password="not-the-password-1")
        unknown = token(grant_type="password", username="nobody@example.com", password="not-the-password-1")
        for response in (wrong, unknown):
            assert response.status_code == 400
            assert response.headers["cache-control"] == "no-store"
        assert wrong.json()["error"] == "invalid_grant"
        assert wrong.json() == unknown.json()  # the same answer: no way to tell who has an account

        assert token(grant_type="client_credentials").json()["error"] == "unsupported_grant_type"
        assert token(grant_type="password", username="ada@example.com").json()["error"] == "invalid_request"
        assert token(grant_type="refresh_token").json()["error"] == "invalid_request"
        assert token(grant_type="refresh_token", refresh_token="made-up").json()["error"] == "invalid_grant"
        assert token().json()["error"] == "invalid_request"
        plain = client.post(
            "/api/v1/auth/token", content=b"grant_type=password", headers={"content-type": "text/plain"}
        )
        assert (plain.status_code, plain.json()["error"]) == (400, "invalid_request")
        broken = client.post("/api/v1/auth/token", content=b"{", headers={"content-type": "application/json"})
        assert (broken.status_code, broken.json()["error"]) == (400, "invalid_request")


def test_refresh_rotates_and_a_reused_token_ends_the_whole_session(run_cli: RunCli, start_server: Any) -> None:
    server = serve(run_cli, start_server)
    with client_for(server) as client:
        register(client, "ada@example.com")
        first = sign_in(client, "ada@example.com")
        other_session = sign_in(client, "ada@example.com")

        rotated = refresh(client, first["refresh_token"])
        assert rotated.status_code == 200, rotated.text
        assert rotated.headers["cache-control"] == "no-store"
        second = rotated.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert me(client, second["access_token"]).status_code == 200

        # The first token again: someone copied it. The whole family ends, the current token too.
        reused = refresh(client, first["refresh_token"])
        assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
        after_theft = refresh(client, second["refresh_token"])
        assert (after_theft.status_code, after_theft.json()["error"]) == (400, "invalid_grant")
        # Another sign-in is another session, untouched.
        assert refresh(client, other_session["refresh_token"]).status_code == 200

    events = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    alarms = [e for e in events if e.get("event") == "refresh_token_reused"]
    assert len(alarms) == 1, server.logs()
    assert first["refresh_token"] not in server.logs()


def test_logout_ends_one_session_and_logout_all_ends_every_one(run_cli: RunCli, start_server: Any) -> None:
    with client_for(serve(run_cli, start_server)) as client:
        register(client, "ada@example.com")
        one = sign_in(client, "ada@example.com")
        two = sign_in(client, "ada@example.com")
        three = sign_in(client, "ada@example.com")

        out = client.post(
            "/api/v1/auth/logout", json={"refresh_token": one["refresh_token"]}, headers=bearer(one["access_token"])
        )
        assert out.status_code == 204, out.text
        assert refresh(client, one["refresh_token"]).json()["error"] == "invalid_grant"
        assert refresh(client, two["refresh_token"]).status_code == 200

        everywhere = client.post("/api/v1/auth/logout-all", headers=bearer(three["access_token"]))
        assert everywhere.status_code == 200, everywhere.text
        assert everywhere.json()["revoked_sessions"] >= 2
        assert refresh(client, three["refresh_token"]).json()["error"] == "invalid_grant"
        # Access tokens issued before end too, on the very next request.
        assert_unauthorized(me(client, three["access_token"]))
        assert_unauthorized(me(client, two["access_token"]))
        assert me(client, sign_in(client, "ada@example.com")["access_token"]).status_code == 200


def test_changing_the_password_ends_every_other_session(run_cli: RunCli, start_server: Any) -> None:
    with client_for(serve(run_cli, start_server)) as client:
        register(client, "ada@example.com")
        other_device = sign_in(client, "ada@example.com")
        session = sign_in(client, "ada@example.com")
        headers = bearer(session["access_token"])

        wrong = client.post(
            "/api/v1/users/me/password",
            json={"current_password": "not-my-password-9", "new_password": NEW_PASSWORD},
            headers=headers,
        )
        assert (wrong.status_code, wrong.json()["code"]) == (403, "invalid_credentials")
        weak = client.post(
            "/api/v1/users/me/password", json={"current_password": PASSWORD, "new_password": "short"}, headers=headers
        )
        assert (weak.status_code, weak.json()["code"]) == (422, "weak_password")
        assert me(client, session["access_token"]).status_code == 200  # failed attempts change nothing

        changed = client.post(
            "/api/v1/users/me/password",
            json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            headers=headers,
        )
        assert changed.status_code == 204, changed.text
        # The other device is signed out: its access token ends now and its refresh token is revoked.
        assert_unauthorized(me(client, other_device["access_token"]))
        assert refresh(client, other_device["refresh_token"]).json()["error"] == "invalid_grant"
        # This device stays signed in: access tokens all end, but its own refresh token renews it.
        assert_unauthorized(me(client, session["access_token"]))
        renewed = refresh(client, session["refresh_token"])
        assert renewed.status_code == 200, renewed.text
        assert me(client, renewed.json()["access_token"]).status_code == 200
        old = client.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": "ada@example.com", "password": PASSWORD}
        )
        assert old.json()["error"] == "invalid_grant"
        assert me(client, sign_in(client, "ada@example.com", NEW_PASSWORD)["access_token"]).status_code == 200


def test_deactivating_your_account_cuts_access_at_once(run_cli: RunCli, start_server: Any) -> None:
    with client_for(serve(run_cli, start_server)) as client:
        register(client, "ada@example.com")
        session = sign_in(client, "ada@example.com")
        key = client.post("/api/v1/api-keys", json={"name": "script"}, headers=bearer(session["access_token"]))
        assert key.status_code == 201
        api_key = key.json()["key"]
        assert me(client, api_key).status_code == 200

        gone = client.delete("/api/v1/users/me", headers=bearer(session["access_token"]))
        assert gone.status_code == 204
        assert_unauthorized(me(client, session["access_token"]))
        assert_unauthorized(me(client, api_key))
        assert refresh(client, session["refresh_token"]).json()["error"] == "invalid_grant"
        again = client.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": "ada@example.com", "password": PASSWORD}
        )
        assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")


def test_an_admin_deactivation_reaches_every_instance_on_the_next_request(
    run_cli: RunCli, start_server: Any, redis_url: str
) -> None:
    # Two API instances on one database and one Redis, as in production behind a load balancer.
    first = serve(run_cli, start_server, REDIS_URL=redis_url)
    second: Server = start_server(env={"RATE_LIMIT_ENABLED": "false", "REDIS_URL": redis_url})
    with client_for(first) as one, client_for(second) as two:
        creator = register(one, "ada@example.com")
        session = sign_in(two, "ada@example.com")
        assert me(two, session["access_token"]).status_code == 200  # its access state is now cached

        admin = sign_in(one, ADMIN_EMAIL, ADMIN_PASSWORD)["access_token"]
        off = one.patch(f"/api/v1/admin/users/{creator['id']}", json={"is_active": False}, headers=bearer(admin))
        assert off.status_code == 200, off.text
        assert off.json()["is_active"] is False

        assert_unauthorized(me(two, session["access_token"]))
        assert refresh(two, session["refresh_token"]).json()["error"] == "invalid_grant"

        on = two.patch(f"/api/v1/admin/users/{creator['id']}", json={"is_active": True}, headers=bearer(admin))
        assert on.status_code == 200, on.text
        assert me(one, sign_in(one, "ada@example.com")["access_token"]).status_code == 200


def _forge(claims: dict[str, Any], **changes: Any) -> str:
    return jwt.encode({**claims, **changes}, TEST_SECRET_KEY, algorithm="HS256")


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.filterwarnings("ignore:The HMAC key is")  # the HS512 forgery below uses the short test key
def test_bad_access_tokens_are_401_problems_with_a_bearer_challenge(run_cli: RunCli, start_server: Any) -> None:
    with client_for(serve(run_cli, start_server)) as client:
        register(client, "ada@example.com")
        session = sign_in(client, "ada@example.com")
        good = session["access_token"]
        assert me(client, good).status_code == 200
        claims = jwt.decode(good, options={"verify_signature": False})
        now = int(time.time())

        header, payload, signature = good.split(".")
        tampered_signature = f"{header}.{payload}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
        promoted = f"{header}.{_b64({**claims, 'role': 'admin'})}.{signature}"
        alg_none = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."
        bad = {
            "tampered signature": tampered_signature,
            "tampered claims": promoted,
            "expired": _forge(claims, iat=now - 3600, nbf=now - 3600, exp=now - 120),
            "alg none": alg_none,
            "other algorithm": jwt.encode(claims, TEST_SECRET_KEY, algorithm="HS512"),
            "wrong audience": _forge(claims, aud="someone-else"),
            "wrong issuer": _forge(claims, iss="someone-else"),
            "other key": jwt.encode(claims, "another-secret-key-that-is-long-enough-42", algorithm="HS256"),
            "refresh token as access token": session["refresh_token"],
            "made-up API key": "pk_" + "x" * 43,
            "garbage": "not-a-token",
        }
        for name, token in bad.items():
            response = me(client, token)
            assert response.status_code == 401, name
            assert_unauthorized(response)
            assert response.json()["code"] in {"invalid_token", "authentication_required"}, name
        # The same claims, properly signed, do work: the rejections above are about the token.
        assert me(client, _forge(claims)).status_code == 200


def test_failed_sign_ins_are_throttled_per_address_and_email(run_cli: RunCli, start_server: Any) -> None:
    server = serve(run_cli, start_server)
    with client_for(server) as client:
        register(client, "ada@example.com")
        register(client, "bob@example.com")

        def attempt(email: str, password: str) -> httpx.Response:
            return client.post(
                "/api/v1/auth/token", data={"grant_type": "password", "username": email, "password": password}
            )

        for _ in range(5):
            assert attempt("ada@example.com", "guess-guess-guess-1").json()["error"] == "invalid_grant"
        throttled = attempt("ada@example.com", "guess-guess-guess-1")
        assert throttled.status_code == 429, throttled.text
        assert int(throttled.headers["retry-after"]) >= 1
        assert throttled.json()["code"] == "too_many_attempts"
        # Even the right password waits now: guessing cannot go on behind the 429s.
        assert attempt("ada@example.com", PASSWORD).status_code == 429
        # Another account from the same address is not locked out.
        assert attempt("bob@example.com", PASSWORD).status_code == 200
    assert "sign_in_throttled" in server.logs()


def test_registration_is_limited_per_address(run_cli: RunCli, start_server: Any) -> None:
    assert run_cli("db", "upgrade").code == 0
    server: Server = start_server()  # the HTTP rate limits on, as by default
    with client_for(server) as client:
        for n in range(5):
            register(client, f"user{n}@example.com")
        sixth = client.post(
            "/api/v1/auth/register",
            json={"email": "user5@example.com", "password": PASSWORD, "display_name": "Six"},
        )
        assert sixth.status_code == 429
        assert int(sixth.headers["retry-after"]) >= 1


def test_api_key_lifecycle(run_cli: RunCli, start_server: Any) -> None:
    with client_for(serve(run_cli, start_server)) as client:
        user = register(client, "ada@example.com")
        headers = bearer(sign_in(client, "ada@example.com")["access_token"])

        created = client.post("/api/v1/api-keys", json={"name": "ci", "expires_in_days": 30}, headers=headers)
        assert created.status_code == 201, created.text
        assert created.headers["cache-control"] == "no-store"
        key = created.json()
        assert key["key"].startswith("pk_")
        assert key["key"].startswith(key["prefix"])
        assert key["prefix"] != key["key"]
        assert key["expires_at"] is not None
        assert key["last_used_at"] is None

        listed = client.get("/api/v1/api-keys", headers=headers).json()
        assert [k["id"] for k in listed["items"]] == [key["id"]]
        assert key["key"] not in json.dumps(listed)

        as_program = me(client, key["key"])
        assert as_program.status_code == 200
        assert as_program.json()["id"] == user["id"]
        assert client.get("/api/v1/api-keys", headers=headers).json()["items"][0]["last_used_at"] is not None

        for bad in ({"name": ""}, {"name": "x", "expires_in_days": 0}, {"name": "x", "expires_in_days": 5000}):
            assert client.post("/api/v1/api-keys", json=bad, headers=headers).status_code == 422, bad

        revoked = client.delete(f"/api/v1/api-keys/{key['id']}", headers=headers)
        assert revoked.status_code == 204
        assert_unauthorized(me(client, key["key"]))
        assert client.get("/api/v1/api-keys", headers=headers).json()["items"] == []
        again = client.delete(f"/api/v1/api-keys/{key['id']}", headers=headers)
        assert (again.status_code, again.json()["code"]) == (404, "api_key_not_found")


def test_admin_routes_need_the_users_manage_permission(run_cli: RunCli, start_server: Any) -> None:
    with client_for(serve(run_cli, start_server)) as client:
        creator = register(client, "ada@example.com")
        register(client, "bob@example.com", name="Bob")
        member_headers = bearer(sign_in(client, "ada@example.com")["access_token"])
        denied = client.get("/api/v1/admin/users", headers=member_headers)
        assert (denied.status_code, denied.json()["code"]) == (403, "forbidden")

        admin = bearer(sign_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)["access_token"])
        page = client.get("/api/v1/admin/users", params={"q": "EXAMPLE.com", "limit": 2}, headers=admin).json()
        assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (3, 2, 0, 2)
        assert [
            u["email"] for u in client.get("/api/v1/admin/users", params={"q": "bob"}, headers=admin).json()["items"]
        ] == ["bob@example.com"]
        assert client.get(f"/api/v1/admin/users/{creator['id']}", headers=admin).json()["email"] == "ada@example.com"
        promoted = client.patch(
            f"/api/v1/admin/users/{creator['id']}", json={"role": "admin", "tier": "pro"}, headers=admin
        )
        assert (promoted.json()["role"], promoted.json()["tier"]) == ("admin", "pro")
        # A role change ends the creator's old tokens: their permissions in them are stale.
        assert_unauthorized(client.get("/api/v1/admin/users", headers=member_headers))
        assert client.get("/api/v1/admin/users/00000000-0000-7000-8000-000000000000", headers=admin).status_code == 404

        me_as_admin = client.get("/api/v1/users/me", headers=admin).json()
        self_demote = client.patch(f"/api/v1/admin/users/{me_as_admin['id']}", json={"role": "creator"}, headers=admin)
        assert (self_demote.status_code, self_demote.json()["code"]) == (409, "cannot_change_own_access")


def test_openapi_declares_the_oauth2_password_flow(run_cli: RunCli, start_server: Any) -> None:
    with client_for(serve(run_cli, start_server)) as client:
        spec = client.get("/schema/openapi.json").json()
        flow = spec["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]
        assert flow["tokenUrl"] == "/api/v1/auth/token"
        assert {"OAuth2PasswordBearer": []} in spec["paths"]["/api/v1/users/me"]["get"]["security"]
        assert "security" not in spec["paths"]["/api/v1/auth/register"]["post"]
        token = spec["paths"]["/api/v1/auth/token"]["post"]
        assert set(token["requestBody"]["content"]) == {"application/x-www-form-urlencoded", "application/json"}
        for item in spec["paths"].values():
            for operation in item.values():
                assert operation.get("summary"), operation

        # What Swagger UI's Authorize button sends, and then the lock on a protected route.
        register(client, "ada@example.com")
        signed_in = client.post(
            flow["tokenUrl"],
            data={"grant_type": "password", "username": "ada@example.com", "password": PASSWORD, "scope": ""},
            headers={"Accept": "application/json, text/plain, */*"},
        )
        assert signed_in.status_code == 200
        assert me(client, signed_in.json()["access_token"]).status_code == 200
