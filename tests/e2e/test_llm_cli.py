"""`parley models`, `parley providers check` and `GET /api/v1/models`, run as a user would, with the
providers' SDKs pointed at the local fake provider server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunCli
from tests.fakes.llm_server import FakeProviderServer, Reply

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def provider_server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        yield server


@pytest.fixture
def fake(provider_server: FakeProviderServer) -> Iterator[FakeProviderServer]:
    provider_server.clear()
    yield provider_server
    provider_server.clear()


def providers_env(fake: FakeProviderServer) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": "sk-e2e",
        "OPENAI_BASE_URL": fake.openai_base_url,
        "GEMINI_API_KEY": "gemini-e2e",
        "GEMINI_BASE_URL": fake.base_url,
        "GROQ_API_KEY": "gsk-e2e",
        "GROQ_BASE_URL": fake.base_url,
        "OFFLINE_TOKEN_DELAY_MS": "0",
    }


@pytest.mark.parametrize("command", [["models"], ["providers"], ["providers", "check"]])
def test_the_model_commands_have_help(run_cli: RunCli, command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.code == 0, result.stderr
    assert "Usage: parley" in result.stdout


def rows(stdout: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in stdout.splitlines()[1:] if line.strip()}


def test_models_lists_the_catalog_with_availability_and_prices(run_cli: RunCli) -> None:
    result = run_cli("models", env={"GROQ_API_KEY": "gsk-e2e", "DEFAULT_MODEL": "groq/llama-3.1-8b-instant"})
    assert result.code == 0, result.stderr
    table = rows(result.stdout)
    assert result.stdout.splitlines()[0].split()[:2] == ["MODEL", "AVAILABLE"]
    assert table["groq/llama-3.3-70b-versatile"][1:6] == ["yes", "131072", "32768", "0.590", "0.790"]
    assert table["openai/gpt-4.1-mini"][1] == "no"
    assert table["offline/echo"][1] == "yes"
    assert table["groq/llama-3.1-8b-instant"][1] == "*", "the default model is starred"
    assert "* default model (groq/llama-3.1-8b-instant)" in result.stdout
    available = run_cli("models", "--available")
    assert set(rows(available.stdout)) - {"*"} == {"offline/echo", "offline/lorem"}


def test_providers_check_calls_each_configured_provider_and_prints_a_table(
    run_cli: RunCli, fake: FakeProviderServer
) -> None:
    result = run_cli("providers", "check", env=providers_env(fake))
    assert result.code == 0, result.stderr
    table = rows(result.stdout)
    assert set(table) - {"PROVIDER"} == {"offline", "openai", "gemini", "groq"}
    for provider in ("offline", "openai", "gemini", "groq"):
        assert table[provider][2] == "ok", result.stdout
        assert table[provider][4] == "ms"
    assert table["openai"][1] == "openai/gpt-4.1-mini"  # the default model: the first online one
    assert table["gemini"][1] == "gemini/gemini-2.5-flash-lite"  # else its first cheap model
    # One tiny call each, over the real SDKs, to the fake server (and nowhere else).
    for provider in ("openai", "gemini", "groq"):
        (call,) = fake.requests_for(provider)
        assert (
            call.body.get("max_tokens") == 16
            or call.body.get("max_completion_tokens") == 16
            or (call.body["generationConfig"]["maxOutputTokens"] == 16)
        )


def test_providers_check_exits_1_naming_the_provider_that_failed(run_cli: RunCli, fake: FakeProviderServer) -> None:
    fake.script("groq", Reply(status=401))
    fake.script("gemini", Reply.gemini_bad_key())
    result = run_cli("providers", "check", env=providers_env(fake))
    assert result.code == 1, result.stdout
    table = rows(result.stdout)
    assert table["openai"][2] == "ok"
    assert table["groq"][2] == "provider_auth_failed"
    assert table["gemini"][2] == "provider_auth_failed"
    assert "error: 2 of 4 provider(s) failed: gemini, groq" in result.stderr
    assert "gsk-e2e" not in result.stdout + result.stderr


def test_providers_check_with_nothing_configured_checks_the_offline_model(run_cli: RunCli) -> None:
    result = run_cli("providers", "check")
    assert result.code == 0, result.stderr
    assert set(rows(result.stdout)) - {"PROVIDER"} == {"offline"}


def test_a_fallback_naming_an_unknown_model_stops_the_command_with_one_line(run_cli: RunCli) -> None:
    result = run_cli("models", env={"LLM_FALLBACKS": "offline/echo -> openai/gpt-99"})
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: LLM_FALLBACKS names 'openai/gpt-99', which is not in the model catalog "
        "(see `parley models`)"
    ]


def test_the_running_api_lists_the_models_to_anyone(
    run_cli: RunCli, start_server: Any, fake: FakeProviderServer
) -> None:
    assert run_cli("db", "upgrade").code == 0
    server = start_server(env=providers_env(fake))
    response = httpx.get(f"{server.base_url}/api/v1/models", params={"available": "true"}, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert {m["provider"] for m in body["items"]} == {"offline", "openai", "gemini", "groq"}
    assert body["default_model"] == "openai/gpt-4.1-mini"
    assert "sk-e2e" not in server.logs()
    assert "gemini-e2e" not in server.logs()
