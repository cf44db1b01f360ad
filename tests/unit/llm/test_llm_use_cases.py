"""ListModels and CheckProviders on the fakes."""

from __future__ import annotations

import asyncio

from src.application.llm.check_providers import CheckProviders, CheckProvidersCommand
from src.application.llm.list_models import ListModels, ListModelsQuery
from src.domain.llm.errors import ProviderAuthError
from src.domain.llm.model import ModelInfo
from src.infrastructure.llm.catalog import FileModelCatalog
from tests.fakes.llm_providers import ScriptedProvider, Step, fail, model_info
from tests.fakes.shared import FakeClock


def catalog(configured: tuple[str, ...] = ("openai",), default: str | None = None) -> FileModelCatalog:
    cheap = ModelInfo(
        id="openai/tiny", display_name="tiny", context_window=10, max_output_tokens=5, capabilities=frozenset({"cheap"})
    )
    models = [model_info("offline/echo"), model_info("openai/big"), cheap, model_info("groq/llama")]
    return FileModelCatalog(models, configured_providers=configured, default_model=default)


async def test_list_models_marks_availability_and_the_default_in_catalog_order() -> None:
    page = await ListModels(catalog())(ListModelsQuery())
    assert [(v.info.id, v.available, v.is_default) for v in page.items] == [
        ("offline/echo", True, False),
        ("openai/big", True, True),
        ("openai/tiny", True, False),
        ("groq/llama", False, False),
    ]
    assert (page.total, page.default_model) == (4, "openai/big")


async def test_list_models_filters_the_available_ones_and_pages() -> None:
    use_case = ListModels(catalog())
    available = await use_case(ListModelsQuery(available_only=True))
    assert [v.info.id for v in available.items] == ["offline/echo", "openai/big", "openai/tiny"]
    page = await use_case(ListModelsQuery(limit=2, offset=1))
    assert [v.info.id for v in page.items] == ["openai/big", "openai/tiny"]
    assert (page.total, page.limit, page.offset) == (4, 2, 1)


async def test_check_providers_calls_each_on_its_cheap_model_and_reports_failures() -> None:
    clock = FakeClock()
    openai, groq = ScriptedProvider("openai", clock), ScriptedProvider("groq", clock)
    groq.script(fail(ProviderAuthError("groq refused Parley's API key (401)")))
    checks = await CheckProviders(
        {"openai": openai, "groq": groq}, catalog(("openai", "groq"), default="offline/echo"), clock
    )(CheckProvidersCommand())
    by_provider = {c.provider: c for c in checks}
    assert by_provider["openai"].ok
    assert by_provider["openai"].model == "openai/tiny"
    assert openai.calls[0].request.max_output_tokens == 16
    assert not by_provider["groq"].ok
    assert by_provider["groq"].error_code == "provider_auth_failed"
    assert "401" in (by_provider["groq"].detail or "")


async def test_check_providers_prefers_the_default_model_and_names_unknown_providers() -> None:
    clock = FakeClock()
    openai = ScriptedProvider("openai", clock)
    use_case = CheckProviders({"openai": openai}, catalog(default="openai/big"), clock)
    checks = await use_case(CheckProvidersCommand(providers=("openai", "gemini")))
    assert [(c.provider, c.ok, c.model) for c in checks] == [("openai", True, "openai/big"), ("gemini", False, None)]
    assert checks[1].detail == "gemini is not configured"


async def test_a_provider_that_does_not_answer_in_time_fails_its_check() -> None:
    clock = FakeClock()
    openai = ScriptedProvider("openai", clock)
    openai.script(Step(hang=True))
    checks = await asyncio.wait_for(
        CheckProviders({"openai": openai}, catalog(), clock)(CheckProvidersCommand(timeout_seconds=0.05)), 5
    )
    assert (checks[0].ok, checks[0].error_code) == (False, "provider_timeout")
