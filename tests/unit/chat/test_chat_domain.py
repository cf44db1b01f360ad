"""The chat domain's rules: context windows, titles, conversation settings, message content."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from src.domain.chat.context import (
    check_fits,
    context_threshold,
    history_budget,
    message_tokens,
    trim_to_context_window,
)
from src.domain.chat.errors import ContextWindowExceeded, EmptyMessage, InvalidConversation, MessageTooLong
from src.domain.chat.model import Conversation, Grounding, check_message_content, check_temperature, clean_title
from src.domain.chat.titles import FALLBACK_TITLE, title_from_suggestion, title_from_text
from src.domain.llm.model import MessageRole, PromptMessage

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def user(text: str) -> PromptMessage:
    return PromptMessage(MessageRole.USER, text)


def assistant(text: str) -> PromptMessage:
    return PromptMessage(MessageRole.ASSISTANT, text)


def test_the_latest_messages_that_fit_are_kept_and_older_ones_left_out() -> None:
    history = [user(f"question number {i} " + "word " * 20) for i in range(30)]
    per_message = message_tokens(history[0].content)
    window, max_output = 1000, 200
    prompt = trim_to_context_window(None, history, context_window=window, max_output_tokens=max_output)
    fitting = (window - max_output) // per_message
    assert list(prompt) == history[-fitting:]
    assert sum(message_tokens(m.content) for m in prompt) <= window - max_output


def test_the_system_prompt_comes_first_and_takes_its_room() -> None:
    history = [user("word " * 40) for _ in range(10)]
    system = "You are terse. " * 30
    without = trim_to_context_window(None, history, context_window=600, max_output_tokens=100)
    with_system = trim_to_context_window(system, history, context_window=600, max_output_tokens=100)
    assert with_system[0] == PromptMessage(MessageRole.SYSTEM, system)
    assert len(with_system) - 1 < len(without)
    budget = history_budget(context_window=600, max_output_tokens=100, system_prompt=system)
    assert sum(message_tokens(m.content) for m in with_system[1:]) <= budget


def test_a_kept_history_never_starts_with_the_assistant() -> None:
    history = [user("a " * 50), assistant("b " * 50), user("c " * 3)]
    # Room for the last two but not the first: the assistant's message would lead, so it goes too.
    room = message_tokens(history[1].content) + message_tokens(history[2].content) + 1
    prompt = trim_to_context_window(None, history, context_window=room + 10, max_output_tokens=10)
    assert list(prompt) == [history[2]]


def test_the_threshold_selects_exactly_what_trimming_keeps() -> None:
    contents = [f"message {i} " + "x " * (i % 7) * 5 for i in range(40)]
    starts, total = [], 0
    for content in contents:
        starts.append(total)
        total += message_tokens(content)
    budget = 300
    threshold = context_threshold(token_total=total, budget=budget)
    selected = [c for c, start in zip(contents, starts, strict=True) if start >= threshold]
    trimmed = trim_to_context_window(
        None, [user(c) for c in contents], context_window=budget + 100, max_output_tokens=100
    )
    assert [m.content for m in trimmed] == selected


def test_a_message_too_big_for_the_window_on_its_own_is_refused() -> None:
    with pytest.raises(ContextWindowExceeded) as caught:
        check_fits(500, budget=300)
    assert caught.value.extra == {"estimated_tokens": 500, "available_tokens": 300}
    check_fits(300, budget=300)


def test_message_content_is_checked_not_rewritten() -> None:
    assert check_message_content("  spaced  ", max_chars=20) == "  spaced  "
    with pytest.raises(EmptyMessage):
        check_message_content(" \n\t", max_chars=20)
    with pytest.raises(MessageTooLong):
        check_message_content("x" * 21, max_chars=20)


@pytest.mark.parametrize(
    ("knowledge", "expected"),
    [
        (True, Grounding(None)),
        (["Work", "work", " travel "], Grounding(("work", "travel"))),
        (None, None),
        (False, None),
        ([], None),
    ],
)
def test_grounding_is_all_knowledge_some_tags_or_none(knowledge: object, expected: Grounding | None) -> None:
    grounding = Grounding.of(knowledge)  # type: ignore[arg-type]
    assert grounding == expected
    if grounding is not None:
        assert Grounding.from_json(grounding.to_json()) == grounding


@pytest.mark.parametrize("bad", ["work", [1], ["x" * 51], [f"t{i}" for i in range(21)]])
def test_bad_grounding_is_refused(bad: object) -> None:
    with pytest.raises(InvalidConversation):
        Grounding.of(bad)  # type: ignore[arg-type]


def test_conversation_settings_are_cleaned_and_bounded() -> None:
    assert clean_title("  Trip   plans ") == "Trip plans"
    assert clean_title("   ") is None
    with pytest.raises(InvalidConversation):
        clean_title("x" * 201)
    assert check_temperature(0.7) == 0.7
    for bad in (-0.1, 2.5, float("nan")):
        with pytest.raises(InvalidConversation):
            check_temperature(bad)


def test_a_reply_lock_past_its_lease_is_no_longer_in_progress() -> None:
    conversation = Conversation.start(id=uuid.uuid4(), user_id=uuid.uuid4(), model="offline/echo", now=NOW)
    assert not conversation.reply_in_progress(NOW)
    conversation.generating_message_id = uuid.uuid4()
    conversation.generating_until = NOW.replace(minute=1)
    assert conversation.reply_in_progress(NOW)
    assert not conversation.reply_in_progress(NOW.replace(minute=2))


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("how do I **bake** sourdough bread at home without a starter?", "How do I bake sourdough bread"),
        ("\n\n# Trip to Lisbon\nplease plan it", "Trip to Lisbon"),
        ("hi!", "Hi"),
        ("   \n  ", FALLBACK_TITLE),
        ("```\n```", FALLBACK_TITLE),
    ],
)
def test_a_title_from_the_first_message_has_at_most_six_words(text: str, title: str) -> None:
    assert title_from_text(text) == title
    assert len(title.split()) <= 6


@pytest.mark.parametrize(
    ("suggestion", "title"),
    [
        ('"Sourdough Without a Starter"', "Sourdough Without a Starter"),
        ("Title: Planning a Lisbon weekend trip in spring", "Planning a Lisbon weekend trip in"),
        ("\u201cBudget travel tips.\u201d\nMore text", "Budget travel tips"),
        ("   ", None),
    ],
)
def test_a_models_suggestion_is_cleaned(suggestion: str, title: str | None) -> None:
    assert title_from_suggestion(suggestion) == title
