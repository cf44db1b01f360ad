"""uvicorn serving Parley, exercised over real HTTP."""

from __future__ import annotations

import http.client
import json
import signal
import time

import httpx
import pytest

from tests.e2e.conftest import RunCli, Server

pytestmark = pytest.mark.e2e


def test_serves_health_ready_and_openapi_on_the_embedded_defaults(run_cli: RunCli, start_server) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("db", "upgrade").code == 0
    server: Server = start_server()
    with httpx.Client(base_url=server.base_url, timeout=5) as client:
        health = client.get("/health")
        assert health.status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database"]["details"]["backend"] == "sqlite"
        spec = client.get("/schema/openapi.json")
        assert spec.status_code == 200
        assert spec.json()["info"]["title"] == "Parley API"
        echoed = client.get("/health", headers={"X-Request-ID": "e2e-request-42"})
        assert echoed.headers["x-request-id"] == "e2e-request-42"
        missing = client.get("/nope")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        assert "server" not in missing.headers  # no software banner

    elapsed = server.stop(signal.SIGINT)
    assert server.process.returncode == 0
    assert elapsed < 5, f"Ctrl-C took {elapsed:.1f} s"

    lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "request" and line.get("request_id") == "e2e-request-42"]
    assert access, server.logs()
    assert access[0]["route"] == "/health"
    assert access[0]["status"] == 200
    assert any(line.get("event") == "api_stopped" for line in lines)
    # uvicorn's own lines come through the same JSON pipeline.
    assert any(line.get("logger", "").startswith("uvicorn") for line in lines), server.logs()


def test_sigterm_also_stops_cleanly(run_cli: RunCli, start_server) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("db", "upgrade").code == 0
    server: Server = start_server()
    elapsed = server.stop(signal.SIGTERM)
    assert server.process.returncode == 0
    assert elapsed < 5
    assert '"api_stopped"' in server.logs()  # the lifespan shut down, not a hard kill


def test_several_worker_processes_serve(run_cli: RunCli, start_server) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("db", "upgrade").code == 0
    server: Server = start_server("--workers", "2")
    with httpx.Client(base_url=server.base_url, timeout=5) as client:
        assert all(client.get("/ready").status_code == 200 for _ in range(10))
    server.stop(signal.SIGINT)
    assert server.process.returncode == 0


def test_bad_configuration_stops_serve_with_one_line(run_cli: RunCli) -> None:
    result = run_cli("serve", env={"DATABASE_URL": "mysql://nope"})
    assert result.code == 2
    assert result.stderr.strip() == (
        "configuration error: DATABASE_URL must start with postgresql+asyncpg:// or sqlite+aiosqlite://"
    )
    assert "Traceback" not in result.stderr


def _get_health(connection: http.client.HTTPConnection) -> int:
    connection.request("GET", "/health")
    response = connection.getresponse()
    response.read()
    return response.status


def test_idle_keep_alive_connections_outlast_a_balancers_idle_timeout(run_cli: RunCli, start_server) -> None:  # type: ignore[no-untyped-def]
    """A load balancer keeps its connections to the server and reuses them after a pause. With
    uvicorn's 5 s default the server closed them while HAProxy was sending the next request down
    them: the client saw "Server disconnected without sending a response" (a lost sign-up in the
    scale-out test). KEEP_ALIVE_TIMEOUT (75 s) keeps them longer than any balancer's idle timeout."""
    assert run_cli("db", "upgrade").code == 0
    server: Server = start_server(env={"KEEP_ALIVE_TIMEOUT": "8"})
    host, port = server.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        assert _get_health(connection) == 200
        opened = connection.sock
        time.sleep(6)  # past uvicorn's default, within the configured timeout
        assert _get_health(connection) == 200  # http.client raises RemoteDisconnected on a closed one
        assert connection.sock is opened  # the same connection, not a new one
    finally:
        connection.close()
    server.stop(signal.SIGINT)
