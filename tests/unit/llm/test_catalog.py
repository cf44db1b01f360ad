"""The model catalog file: loading, availability, the default model, and bad files stopping the start."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.domain.llm.errors import UnknownModel
from src.infrastructure.llm.catalog import SHIPPED_CATALOG, CatalogError, FileModelCatalog, read_catalog
from src.infrastructure.llm.catalog_loading import build_model_catalog
from src.infrastructure.settings import ConfigError
from tests.conftest import SettingsFactory

MINIMAL = """
[[models]]
id = "offline/echo"
context_window = 100
max_output_tokens = 10

[[models]]
id = "openai/gpt-test"
display_name = "GPT test"
context_window = 1000
max_output_tokens = 100
input = 0.4
output = 1.6
cached_input = 0.1
capabilities = ["streaming", "cheap"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_catalog_loads_with_every_provider_and_exact_prices() -> None:
    models = {m.id: m for m in read_catalog(SHIPPED_CATALOG)}
    assert {m.provider for m in models.values()} == {"offline", "openai", "gemini", "groq"}
    mini = models["openai/gpt-4.1-mini"]
    assert (mini.pricing.input_per_million, mini.pricing.output_per_million) == (400_000, 1_600_000)
    assert mini.pricing.cached_input_per_million == 100_000
    assert models["groq/llama-3.3-70b-versatile"].pricing.cached_input_per_million is None
    assert all(m.context_window > m.max_output_tokens > 0 for m in models.values())


def test_prices_in_dollars_become_micro_dollars_without_float_rounding(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("input = 0.4", "input = 0.075").replace("output = 1.6", "output = 0.3"))
    model = {m.id: m for m in read_catalog(path)}["openai/gpt-test"]
    assert (model.pricing.input_per_million, model.pricing.output_per_million) == (75_000, 300_000)
    assert model.capabilities == frozenset({"streaming", "cheap"})
    assert model.display_name == "GPT test"


def test_a_model_is_available_when_its_provider_is_configured_and_offline_always_is(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    bare = FileModelCatalog.load(path, configured_providers=(), default_model=None)
    assert bare.available_ids() == ["offline/echo"]
    assert not bare.is_available("openai/gpt-test")
    assert not bare.is_available("nobody/knows")
    configured = FileModelCatalog.load(path, configured_providers=("openai",), default_model=None)
    assert configured.is_available("openai/gpt-test")
    assert [m.id for m in configured.models()] == ["offline/echo", "openai/gpt-test"]


def test_the_default_is_the_first_online_model_else_the_offline_one_unless_chosen(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    assert FileModelCatalog.load(path, configured_providers=(), default_model=None).default_model == "offline/echo"
    online = FileModelCatalog.load(path, configured_providers=("openai",), default_model=None)
    assert online.default_model == "openai/gpt-test"
    chosen = FileModelCatalog.load(path, configured_providers=("openai",), default_model="offline/echo")
    assert chosen.default_model == "offline/echo"
    assert chosen.resolve(None).id == "offline/echo"


def test_resolving_an_unknown_or_unconfigured_model_lists_the_available_ones(tmp_path: Path) -> None:
    catalog = FileModelCatalog.load(write(tmp_path, MINIMAL), configured_providers=(), default_model=None)
    with pytest.raises(UnknownModel) as unconfigured:
        catalog.resolve("openai/gpt-test")
    assert "not configured" in unconfigured.value.detail
    assert unconfigured.value.extra == {"model": "openai/gpt-test", "available": ["offline/echo"]}
    with pytest.raises(UnknownModel, match="not in the model catalog"):
        catalog.resolve("openai/gpt-9")
    with pytest.raises(UnknownModel, match="provider/model"):
        catalog.resolve("gpt-9")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[models]\nid = 1", "model catalog"),
        ("title = 'no models'", "no [[models]] entries"),
        ("models = [1]", "entry 1: not a table"),
        ("[[models]]\ncontext_window = 1\nmax_output_tokens = 1", "entry 1: `id` (provider/model) is required"),
        ("[[models]]\nid = 'gpt'\ncontext_window = 1\nmax_output_tokens = 1", "entry 1: model ids are written"),
        ("[[models]]\nid = 'a/b'\ncontext_window = 0\nmax_output_tokens = 1", "(a/b): `context_window` must be"),
        ("[[models]]\nid = 'a/b'\ncontext_window = 5\nmax_output_tokens = 'x'", "`max_output_tokens` must be"),
        (
            "[[models]]\nid = 'a/b'\ncontext_window = 5\nmax_output_tokens = 1\ninput = -1",
            "`input` must be a price in dollars per million tokens",
        ),
        (
            "[[models]]\nid = 'a/b'\ncontext_window = 5\nmax_output_tokens = 1\noutput = 'cheap'",
            "`output` must be a price",
        ),
        (
            "[[models]]\nid = 'a/b'\ncontext_window = 5\nmax_output_tokens = 1\ncapabilities = 'x'",
            "`capabilities` must be a list of strings",
        ),
        (
            "[[models]]\nid = 'a/b'\ncontext_window = 5\nmax_output_tokens = 1\n"
            "[[models]]\nid = 'a/b'\ncontext_window = 5\nmax_output_tokens = 1",
            "entry 2: a/b appears twice",
        ),
    ],
)
def test_a_bad_catalog_file_names_the_entry_and_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CatalogError) as caught:
        read_catalog(write(tmp_path, text))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_bad_catalog_stops_the_start_with_one_readable_configuration_error(
    tmp_path: Path, make_settings: SettingsFactory
) -> None:
    path = write(tmp_path, "[[models]]\nid = 'a/b'\ncontext_window = -5\nmax_output_tokens = 1")
    with pytest.raises(ConfigError) as caught:
        build_model_catalog(make_settings(MODEL_CATALOG_PATH=path))
    text = str(caught.value)
    assert text.startswith("configuration error: MODEL_CATALOG_PATH is not a usable model catalog")
    assert "`context_window` must be a positive integer" in text
    assert "\n" not in text


def test_a_missing_catalog_file_is_refused_when_settings_load(tmp_path: Path, make_settings: SettingsFactory) -> None:
    with pytest.raises(ConfigError, match="MODEL_CATALOG_PATH names .* which is not a readable file"):
        make_settings(MODEL_CATALOG_PATH=tmp_path / "nope.toml")


def test_the_catalog_override_replaces_the_shipped_one(tmp_path: Path, make_settings: SettingsFactory) -> None:
    catalog = build_model_catalog(make_settings(MODEL_CATALOG_PATH=write(tmp_path, MINIMAL)), ["openai"])
    assert [m.id for m in catalog.models()] == ["offline/echo", "openai/gpt-test"]


def test_a_default_model_that_is_not_available_stops_the_start(make_settings: SettingsFactory) -> None:
    with pytest.raises(ConfigError, match="DEFAULT_MODEL is 'openai/gpt-4.1-mini', which is not an available"):
        build_model_catalog(make_settings(DEFAULT_MODEL="openai/gpt-4.1-mini"))
    assert build_model_catalog(make_settings(DEFAULT_MODEL="offline/lorem")).default_model == "offline/lorem"


def test_fallback_ids_are_checked_against_the_catalog_at_start(make_settings: SettingsFactory) -> None:
    with pytest.raises(ConfigError) as caught:
        build_model_catalog(make_settings(LLM_FALLBACKS="openai/gpt-4.1-mini -> groq/llama-9-huge"), ["openai"])
    assert "LLM_FALLBACKS names 'groq/llama-9-huge', which is not in the model catalog" in str(caught.value)
    # A catalog model whose provider is not configured is allowed (and skipped when calls are made).
    build_model_catalog(make_settings(LLM_FALLBACKS="openai/gpt-4.1-mini -> groq/llama-3.3-70b-versatile"), ["openai"])
