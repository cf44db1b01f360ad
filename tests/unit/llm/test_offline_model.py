"""The offline models: deterministic, streamed word by word, honest counts, limits and stop sequences."""

from __future__ import annotations

import pytest

from src.domain.llm.errors import UnknownModel
from src.domain.llm.model import (
    ChatRequest,
    FinishReason,
    MessageRole,
    PromptMessage,
    StreamEnd,
    TextDelta,
)
from src.infrastructure.llm.offline import OfflineChatModel, tokenize
from tests.fakes.shared import FakeClock


def request(text: str = "Hello there, how are you?", model: str = "offline/echo", **kwargs: object) -> ChatRequest:
    messages = (PromptMessage(MessageRole.SYSTEM, "Be brief."), PromptMessage(MessageRole.USER, text))
    return ChatRequest(messages=messages, model=model, **kwargs)  # type: ignore[arg-type]


async def collect(model: OfflineChatModel, req: ChatRequest) -> tuple[list[str], StreamEnd]:
    deltas: list[str] = []
    end: StreamEnd | None = None
    async for chunk in model.stream(req):
        assert end is None, "nothing may follow the StreamEnd"
        if isinstance(chunk, TextDelta):
            deltas.append(chunk.text)
        else:
            end = chunk
    assert end is not None
    return deltas, end


@pytest.fixture
def model() -> OfflineChatModel:
    return OfflineChatModel(FakeClock(), token_delay_ms=0)


async def test_echo_repeats_the_last_user_message_word_by_word(model: OfflineChatModel) -> None:
    deltas, end = await collect(model, request())
    assert "".join(deltas) == "Hello there, how are you?"
    assert deltas == ["Hello", " there", ",", " how", " are", " you", "?"]
    assert (end.finish_reason, end.provider, end.model, end.model_id) == (
        FinishReason.STOP,
        "offline",
        "echo",
        "offline/echo",
    )


async def test_counts_are_honest_one_token_per_streamed_piece(model: OfflineChatModel) -> None:
    deltas, end = await collect(model, request())
    assert end.usage.output_tokens == len(deltas)
    assert end.usage.input_tokens == len(tokenize("Be brief.")) + len(tokenize("Hello there, how are you?"))
    assert not end.usage.estimated


async def test_lorem_is_deterministic_for_a_prompt_and_differs_between_prompts(model: OfflineChatModel) -> None:
    first, _ = await collect(model, request("Tell me a story", model="offline/lorem"))
    again, _ = await collect(model, request("Tell me a story", model="offline/lorem"))
    other, _ = await collect(model, request("Tell me another story", model="offline/lorem"))
    assert first == again
    assert first != other
    assert "".join(first).endswith(".")
    assert len(first) > 10


async def test_max_output_tokens_cuts_the_answer_with_finish_reason_length(model: OfflineChatModel) -> None:
    deltas, end = await collect(model, request(max_output_tokens=3))
    assert deltas == ["Hello", " there", ","]
    assert end.finish_reason is FinishReason.LENGTH
    assert end.usage.output_tokens == 3
    _, roomy = await collect(model, request(max_output_tokens=7))
    assert roomy.finish_reason is FinishReason.STOP


async def test_a_stop_sequence_ends_the_answer_before_it(model: OfflineChatModel) -> None:
    deltas, end = await collect(model, request("one two STOP three", stop=("STOP", "never")))
    assert "".join(deltas) == "one two"
    assert end.finish_reason is FinishReason.STOP


async def test_complete_is_the_stream_put_together(model: OfflineChatModel) -> None:
    completion = await model.complete(request(model="offline/lorem"))
    deltas, end = await collect(model, request(model="offline/lorem"))
    assert completion.text == "".join(deltas)
    assert completion.usage == end.usage
    assert completion.model_id == "offline/lorem"


async def test_time_to_first_token_and_latency_follow_the_token_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:  # the clock moves as a real per-token sleep would
        sleeps.append(seconds)
        clock.advance(seconds)

    monkeypatch.setattr("src.infrastructure.llm.offline.asyncio.sleep", sleep)
    deltas, end = await collect(OfflineChatModel(clock, token_delay_ms=15), request("a b c"))
    assert sleeps == [0.015] * len(deltas) == [0.015] * 3
    assert end.ttft_ms == 15
    assert end.latency_ms == 45


async def test_an_unknown_offline_model_is_model_unavailable(model: OfflineChatModel) -> None:
    with pytest.raises(UnknownModel):
        await collect(model, request(model="offline/parrot"))
    with pytest.raises(UnknownModel):
        await model.complete(request(model="openai/gpt-4.1-mini"))


async def test_an_empty_message_is_not_echoed_as_nothing(model: OfflineChatModel) -> None:
    deltas, end = await collect(model, request("   "))
    assert "".join(deltas) == "(nothing to echo)"
    assert end.usage.output_tokens == len(deltas) > 0
