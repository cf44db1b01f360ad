"""The context cap and the running summary, as pure policy (src/domain/chat/context.py, summary.py)."""

from __future__ import annotations

import pytest

from src.domain.chat.context import (
    check_context_tokens,
    context_budget,
    context_start,
    message_tokens,
)
from src.domain.chat.defaults import DEFAULT_CONTEXT_TOKENS
from src.domain.chat.errors import InvalidConversation
from src.domain.chat.summary import (
    MAX_SUMMARY_WORDS,
    SUMMARY_NOTE_HEADER,
    clean_summary,
    offline_summary,
    summary_due,
    summary_instructions,
    summary_token_limit,
    summary_transcript,
    summary_word_limit,
    with_summary,
)
from src.domain.llm.model import MessageRole, PromptMessage


def test_the_default_cap_is_far_below_a_large_model_window() -> None:
    assert 16_000 <= DEFAULT_CONTEXT_TOKENS <= 32_000
    budget = context_budget(context_window=1_000_000, max_output_tokens=32_000, system_prompt=None, cap=None)
    capped = context_budget(
        context_window=1_000_000, max_output_tokens=32_000, system_prompt=None, cap=DEFAULT_CONTEXT_TOKENS
    )
    assert (budget, capped) == (968_000, DEFAULT_CONTEXT_TOKENS)


def test_a_cap_above_the_model_room_is_held_to_the_room() -> None:
    assert context_budget(context_window=8192, max_output_tokens=2048, system_prompt=None, cap=100_000) == 6144


@pytest.mark.parametrize("value", [0, -5, 8193, True])
def test_a_conversation_cap_must_be_positive_and_within_the_window(value: int) -> None:
    with pytest.raises(InvalidConversation) as caught:
        check_context_tokens(value, context_window=8192)
    assert caught.value.extra["max_context_tokens"] == 8192


def test_a_conversation_cap_within_the_window_is_kept_and_none_is_the_default() -> None:
    assert check_context_tokens(8192, context_window=8192) == 8192
    assert check_context_tokens(1, context_window=8192) == 1
    assert check_context_tokens(None, context_window=8192) is None


def test_the_context_starts_where_the_cap_allows() -> None:
    # 1000 tokens so far, a cap of 300: the messages starting at 700 or later.
    assert context_start(token_total=1000, budget=300, latest_start=950) == 700


def test_the_message_answered_is_kept_even_above_a_small_cap() -> None:
    assert context_start(token_total=1000, budget=10, latest_start=900) == 900


def test_turns_the_summary_covers_are_not_sent_again() -> None:
    assert context_start(token_total=1000, budget=600, latest_start=950, summary_token_end=800) == 800
    assert context_start(token_total=1000, budget=600, latest_start=950, summary_token_end=100) == 400


def test_the_summary_follows_the_system_prompt_as_a_note() -> None:
    assert with_summary("Be brief.", None) == "Be brief."
    assert with_summary(None, "They talked about Lisbon.") == f"{SUMMARY_NOTE_HEADER}\nThey talked about Lisbon."
    assert with_summary("Be brief.", "Lisbon.") == f"Be brief.\n\n{SUMMARY_NOTE_HEADER}\nLisbon."


def test_the_summary_is_updated_a_batch_at_a_time_not_per_message() -> None:
    # A quarter of the 4000-token budget must have fallen out since the summary's end.
    assert not summary_due(threshold=999, summary_token_end=0, budget=4000)
    assert summary_due(threshold=1000, summary_token_end=0, budget=4000)
    assert not summary_due(threshold=5000, summary_token_end=4500, budget=4000)
    assert not summary_due(threshold=-300, summary_token_end=0, budget=4000)


def test_the_transcript_holds_the_summary_so_far_and_the_turns_after_it() -> None:
    turns = [PromptMessage(MessageRole.USER, "Where to eat?"), PromptMessage(MessageRole.ASSISTANT, "Try Ramiro.")]
    text = summary_transcript("They plan a Lisbon trip.", turns)
    assert text == (
        "Summary so far:\nThey plan a Lisbon trip.\n\nTurns that followed:\n\n"
        "User: Where to eat?\n\nAssistant: Try Ramiro."
    )
    assert summary_transcript(None, turns).startswith("Turns:\n\nUser: Where to eat?")


def test_the_offline_summary_is_deterministic_and_bounded() -> None:
    turns = [
        PromptMessage(MessageRole.USER, f"Sentence {i} about the Lisbon trip and the tram number {i}. " * 3)
        for i in range(60)
    ]
    first = offline_summary("They plan a Lisbon trip in May.", turns)
    assert first is not None
    assert first == offline_summary("They plan a Lisbon trip in May.", turns)
    assert "Lisbon" in first
    assert len(first.split()) <= MAX_SUMMARY_WORDS + 1


def test_a_long_model_summary_is_cut_and_a_blank_one_is_none() -> None:
    assert clean_summary("  \n ") is None
    assert clean_summary(" Short. ") == "Short."
    cut = clean_summary("word " * 400)
    assert cut is not None
    assert len(cut.split()) == MAX_SUMMARY_WORDS
    assert cut.endswith("…")
    fitted = clean_summary("word " * 400, max_tokens=40)
    assert fitted is not None
    assert fitted.endswith("…")
    assert message_tokens(fitted) <= 40 < message_tokens(fitted.removesuffix("…") + " word…")


def test_the_summary_limits_follow_the_cap() -> None:
    assert summary_token_limit(16_000) == MAX_SUMMARY_WORDS * 2  # a large cap: the word limit binds
    assert summary_token_limit(400) == 100
    assert summary_token_limit(8) >= 1
    assert summary_word_limit(100) < 100
    assert summary_word_limit(10_000) == MAX_SUMMARY_WORDS
    assert "at most 42 words" in summary_instructions(42)


def test_a_reply_asking_for_its_system_text_again_gets_the_same_string() -> None:
    """A reply asks for its system text several times (its budget, its context's start, its prompt): with
    a ~16 KB running summary, a fresh string each time was hashed and compared in full by the token
    estimate's cache, ~20 us a call. The same object comes back now, whose hash is kept."""
    summary = " ".join(f"Fact {n:04d} was agreed." for n in range(1000))
    first = with_summary("Be brief.", summary)
    assert first is not None
    assert with_summary("Be brief.", summary) is first
    assert with_summary(None, summary) == first.partition("\n\n")[2]
    assert with_summary("Be brief.", None) == "Be brief."
