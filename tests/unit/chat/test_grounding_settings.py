"""The grounding settings: defaults, parsing, one readable line for a bad value, and the container
handing them to the retrieval."""

from __future__ import annotations

import pytest

from src.infrastructure.container import build_container
from src.infrastructure.settings import ConfigError
from tests.conftest import SettingsFactory


def test_defaults_and_values(make_settings: SettingsFactory) -> None:
    defaults = make_settings()
    assert (defaults.chat.grounding_passages, defaults.chat.grounding_excerpt_chars) == (5, 600)
    chosen = make_settings(GROUNDING_PASSAGES="3", GROUNDING_EXCERPT_CHARS="250")
    assert (chosen.chat.grounding_passages, chosen.chat.grounding_excerpt_chars) == (3, 250)
    assert chosen.masked()["GROUNDING_PASSAGES"] == "3"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("GROUNDING_PASSAGES", "0", "GROUNDING_PASSAGES must be at least 1"),
        ("GROUNDING_PASSAGES", "21", "GROUNDING_PASSAGES must be at most 20"),
        ("GROUNDING_PASSAGES", "many", "GROUNDING_PASSAGES must be a whole number"),
        ("GROUNDING_EXCERPT_CHARS", "99", "GROUNDING_EXCERPT_CHARS must be at least 100"),
        ("GROUNDING_EXCERPT_CHARS", "4001", "GROUNDING_EXCERPT_CHARS must be at most 4000"),
    ],
)
def test_bad_values_name_the_variable(make_settings: SettingsFactory, variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(**{variable: value})
    assert caught.value.variable == variable
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_container_registers_the_messages_scope(make_settings: SettingsFactory) -> None:
    container = build_container(make_settings(), role="api")
    assert container.use_cases.knowledge.search_everything.scope_names == ["articles", "paragraphs", "messages"]
