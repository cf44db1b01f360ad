"""The llm domain: model ids, token estimates, prices, errors, retry policy, fallback chains, circuits."""

from __future__ import annotations

import pytest

from src.domain.llm.errors import (
    ContentBlocked,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    UnknownModel,
)
from src.domain.llm.model import (
    MESSAGE_OVERHEAD_TOKENS,
    ChatRequest,
    MessageRole,
    ModelId,
    ModelPricing,
    PromptMessage,
    Usage,
    estimate_tokens,
    estimate_usage,
)
from src.domain.llm.routing import CircuitPosition, FallbackChains, ProviderCircuit, RetryPolicy

# -- model ids ----------------------------------------------------------------------------------------


def test_a_model_id_is_provider_slash_model_and_the_model_part_may_hold_slashes() -> None:
    assert ModelId.parse("openai/gpt-4.1-mini") == ModelId("openai", "gpt-4.1-mini")
    assert ModelId.parse(" OpenAI/gpt-4.1-mini ") == ModelId("openai", "gpt-4.1-mini")
    assert ModelId.parse("groq/meta-llama/llama-4-scout") == ModelId("groq", "meta-llama/llama-4-scout")
    assert str(ModelId("gemini", "gemini-2.5-flash")) == "gemini/gemini-2.5-flash"


@pytest.mark.parametrize("bad", ["gpt-4", "/gpt-4", "openai/", "", "   "])
def test_a_malformed_model_id_is_model_unavailable_saying_how_ids_are_written(bad: str) -> None:
    with pytest.raises(UnknownModel) as caught:
        ModelId.parse(bad)
    assert caught.value.code == "model_unavailable"
    assert "provider/model" in caught.value.detail


def test_a_request_splits_the_system_prompt_from_the_conversation() -> None:
    request = ChatRequest(
        messages=(
            PromptMessage(MessageRole.SYSTEM, "Be brief."),
            PromptMessage(MessageRole.USER, "Hi"),
            PromptMessage(MessageRole.SYSTEM, "Be kind."),
            PromptMessage(MessageRole.ASSISTANT, "Hello"),
        ),
        model="offline/echo",
    )
    assert request.system_prompt == "Be brief.\n\nBe kind."
    assert [m.role for m in request.conversation] == [MessageRole.USER, MessageRole.ASSISTANT]
    assert ChatRequest(messages=(PromptMessage(MessageRole.USER, "x"),), model="a/b").system_prompt is None


# -- estimates -----------------------------------------------------------------------------------------


def test_token_estimates_err_high_and_are_never_zero_for_text() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a") == 1
    # Words and punctuation marks: never fewer tokens than those.
    assert estimate_tokens("I am, so I am!") >= 7
    # Long words: about four characters a token.
    assert estimate_tokens("x" * 400) == 100


def test_estimated_usage_counts_every_message_with_its_overhead_and_is_flagged() -> None:
    messages = [PromptMessage(MessageRole.SYSTEM, "Be brief."), PromptMessage(MessageRole.USER, "Hello there")]
    usage = estimate_usage(messages, "General Kenobi!")
    assert usage.estimated
    assert usage.input_tokens == sum(estimate_tokens(m.content) + MESSAGE_OVERHEAD_TOKENS for m in messages)
    assert usage.output_tokens == estimate_tokens("General Kenobi!") > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


# -- prices --------------------------------------------------------------------------------------------


def test_cost_is_micro_dollars_from_prices_per_million_tokens() -> None:
    pricing = ModelPricing(input_per_million=400_000, output_per_million=1_600_000)  # $0.40 / $1.60
    assert pricing.cost_micros(Usage(input_tokens=1_000_000, output_tokens=1_000_000)) == 2_000_000
    assert pricing.cost_micros(Usage(input_tokens=1000, output_tokens=500)) == 400 + 800
    assert pricing.cost_micros(Usage()) == 0


def test_a_call_that_cost_something_is_never_rounded_down_to_free() -> None:
    pricing = ModelPricing(input_per_million=100_000, output_per_million=400_000)
    assert pricing.cost_micros(Usage(input_tokens=1, output_tokens=0)) == 1  # 0.1 micro-dollars -> 1


def test_cached_input_tokens_are_billed_at_the_cached_price_when_there_is_one() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=0, cached_tokens=400_000)
    cached_price = ModelPricing(input_per_million=2_000_000, output_per_million=0, cached_input_per_million=500_000)
    assert cached_price.cost_micros(usage) == 600_000 * 2 + 400_000 // 2
    no_cached_price = ModelPricing(input_per_million=2_000_000, output_per_million=0)
    assert no_cached_price.cost_micros(usage) == 2_000_000
    # More cached tokens than input tokens (a provider's rounding) never makes a call cheaper than free.
    assert cached_price.cost_micros(Usage(input_tokens=10, cached_tokens=50)) == 5


# -- errors --------------------------------------------------------------------------------------------


def test_provider_errors_say_which_provider_and_when_to_come_back() -> None:
    limited = ProviderRateLimited("slow down", provider="groq", retry_after=7.5)
    assert limited.retry_after == 7.5
    assert limited.extra == {"provider": "groq", "retry_after": 7.5}
    assert ProviderRateLimited("slow down").extra == {}
    too_long = ProviderBadRequest("too long", provider="openai", context_too_long=True)
    assert too_long.extra == {"provider": "openai", "context_too_long": True}


def test_what_is_retried_and_what_falls_back() -> None:
    retried = [ProviderRateLimited(), ProviderUnavailable(), ProviderTimeout()]
    assert all(e.retryable and e.provider_fault for e in retried)
    assert not ProviderAuthError.retryable
    assert ProviderAuthError.provider_fault
    for request_fault in (ProviderBadRequest(), ContentBlocked()):
        assert not request_fault.retryable
        assert not request_fault.provider_fault
        assert request_fault.kind == "invalid"


# -- retry policy ----------------------------------------------------------------------------------------


def test_backoff_doubles_up_to_its_cap_with_half_of_it_random() -> None:
    policy = RetryPolicy(max_retries=5, base_delay=0.5, max_delay=3.0)
    assert [policy.delay(n, retry_after=None, jitter=0.0) for n in range(4)] == [0.25, 0.5, 1.0, 1.5]
    assert [policy.delay(n, retry_after=None, jitter=0.999999) for n in range(4)] == pytest.approx([0.5, 1, 2, 3])


def test_a_providers_retry_after_is_a_floor_never_shortened() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=2.0)
    assert policy.delay(0, retry_after=7.0, jitter=0.5) == 7.0
    assert policy.delay(2, retry_after=0.1, jitter=0.0) == 1.0


def test_a_retry_policy_refuses_negative_or_inverted_delays() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=2, max_delay=1)


# -- fallback chains ----------------------------------------------------------------------------------


def test_fallback_chains_parse_and_answer_what_follows_a_model() -> None:
    chains = FallbackChains.parse(
        "openai/gpt-4.1-mini -> groq/llama-3.3-70b-versatile -> gemini/gemini-2.5-flash;\n"
        " gemini/gemini-2.5-pro->openai/gpt-4.1 ;"
    )
    assert chains.fallbacks_for("openai/gpt-4.1-mini") == ("groq/llama-3.3-70b-versatile", "gemini/gemini-2.5-flash")
    assert chains.fallbacks_for("gemini/gemini-2.5-pro") == ("openai/gpt-4.1",)
    assert chains.fallbacks_for("groq/llama-3.3-70b-versatile") == ()  # it starts no chain
    assert chains.model_ids()[:2] == ["openai/gpt-4.1-mini", "groq/llama-3.3-70b-versatile"]
    assert str(chains).startswith("openai/gpt-4.1-mini -> groq/llama-3.3-70b-versatile -> gemini/")
    assert FallbackChains.parse(str(chains)) == chains
    assert FallbackChains.parse("  ") == FallbackChains()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("openai/a -> -> groq/b", "empty model name"),
        ("openai/a -> gpt-4", "not a provider/model id"),
        ("openai/a -> groq/b -> openai/a", "twice in one chain"),
        ("openai/a", "a chain with one model"),
        ("openai/a -> groq/b; openai/a -> gemini/c", "starts two chains with openai/a"),
    ],
)
def test_bad_fallback_chains_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FallbackChains.parse(text)


# -- circuits -------------------------------------------------------------------------------------------


def test_a_circuit_opens_once_enough_calls_failed_and_lets_one_probe_through_later() -> None:
    circuit = ProviderCircuit(min_calls=3, reset_after=10)
    for at in (0, 1):
        assert circuit.allow(at)
        circuit.record_failure(at)
    assert circuit.position(2) is CircuitPosition.CLOSED  # two calls are too few to judge
    circuit.record_failure(2)
    assert circuit.position(2) is CircuitPosition.OPEN
    assert not circuit.allow(11.9)
    assert circuit.position(12) is CircuitPosition.HALF_OPEN
    assert circuit.allow(12)  # the probe
    assert not circuit.allow(12.5)  # only one at a time
    circuit.record_success(12.6)
    assert circuit.position(13) is CircuitPosition.CLOSED
    assert circuit.allow(13)
    assert circuit.allow(13)


def test_two_failures_in_a_row_among_many_successes_do_not_open_it() -> None:
    circuit = ProviderCircuit(min_calls=2, reset_after=10, failure_rate=0.5, window=60)
    for at in range(8):
        circuit.record_success(at)
    circuit.record_failure(8)
    circuit.record_failure(9)
    assert circuit.position(9) is CircuitPosition.CLOSED  # 2 of 10 failed: 20 %
    for at in range(10, 16):
        circuit.record_failure(at)
    assert circuit.position(16) is CircuitPosition.OPEN  # 8 of 16 failed: 50 %


def test_failures_of_an_old_window_are_forgotten() -> None:
    circuit = ProviderCircuit(min_calls=3, reset_after=10, failure_rate=0.5, window=60)
    circuit.record_failure(0)
    circuit.record_failure(1)
    circuit.record_failure(61)  # a new window: one failure of one call
    assert circuit.position(61) is CircuitPosition.CLOSED
    circuit.record_failure(62)
    circuit.record_failure(63)
    assert circuit.position(63) is CircuitPosition.OPEN


def test_a_closed_probe_starts_a_fresh_window() -> None:
    circuit = ProviderCircuit(min_calls=2, reset_after=10)
    circuit.record_failure(0)
    circuit.record_failure(0)
    assert circuit.allow(10)
    circuit.record_success(10)
    circuit.record_failure(11)  # one failure of two calls since closing: 50 % of the minimum
    assert circuit.position(11) is CircuitPosition.OPEN
    circuit = ProviderCircuit(min_calls=3, reset_after=10)
    for _ in range(3):
        circuit.record_failure(0)
    assert circuit.allow(10)
    circuit.record_success(10)
    circuit.record_failure(11)
    assert circuit.position(11) is CircuitPosition.CLOSED


def test_a_failed_probe_opens_the_circuit_for_another_full_period() -> None:
    circuit = ProviderCircuit(min_calls=1, reset_after=10)
    circuit.record_failure(0)
    assert circuit.allow(10)
    circuit.record_failure(10)
    assert circuit.position(19) is CircuitPosition.OPEN
    assert circuit.allow(20)


def test_a_probe_whose_caller_vanished_does_not_block_the_next_one() -> None:
    circuit = ProviderCircuit(min_calls=1, reset_after=10)
    circuit.record_failure(0)
    assert circuit.allow(10)
    circuit.release()
    assert circuit.allow(10.1)
    # A probe that never reports anything stops counting after another period.
    assert not circuit.allow(15)
    assert circuit.allow(20.2)
