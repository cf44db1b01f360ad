"""CompleteChat (the gateway's use case) on the in-memory fakes: limits, budgets, names, options, the
one charge per call (with the API key), streams left early or failing, and ``store``."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncGenerator

import pytest

from src.application.chat.complete_chat import (
    CompleteChat,
    CompleteChatCommand,
    InvalidCompletionRequest,
    PromptTooLong,
)
from src.application.usage.ai_requests import AiRequestLimiter
from src.application.usage.get_usage import GetUsageQuery
from src.application.usage.ledger import UsageLedger
from src.domain.chat.errors import AiRequestsRateLimited
from src.domain.identity.errors import Forbidden
from src.domain.identity.model import Principal, Role, Tier
from src.domain.llm.errors import ProviderUnavailable, UnknownModel
from src.domain.llm.model import (
    FinishReason,
    MessageRole,
    ModelInfo,
    PromptMessage,
    Usage,
    estimate_prompt_tokens,
    estimate_tokens,
    short_aliases,
)
from src.domain.usage.errors import BudgetExceeded
from src.domain.usage.model import UsageKind
from src.infrastructure.llm.catalog import FileModelCatalog
from src.infrastructure.rate_limit.memory_limiter import MemoryRateLimiter
from tests.fakes.chat import Reply, ScriptedChatModel
from tests.fakes.shared import FakeClock, FakeUnitOfWorkFactory
from tests.unit.chat.conftest import AI_FREE, AI_PRO, BUDGETS, MODELS, ChatWorld, principal

HELLO = (PromptMessage(MessageRole.USER, "Hello there"),)


@dataclasses.dataclass
class Gateway:
    world: ChatWorld
    use_case: CompleteChat
    key_id: uuid.UUID
    caller: Principal

    @property
    def model(self) -> ScriptedChatModel:
        return self.world.model

    @property
    def usage(self) -> list:  # type: ignore[type-arg]
        return self.world.db.chat.usage

    def command(self, **options: object) -> CompleteChatCommand:
        fields: dict[str, object] = {"model": "offline/priced", "messages": HELLO}
        return CompleteChatCommand(**{**fields, **options})  # type: ignore[arg-type]


@pytest.fixture
def gateway() -> Gateway:
    world = ChatWorld(providers=("openai",))
    key_id = uuid.uuid4()
    caller = dataclasses.replace(principal(), via="api_key", api_key_id=key_id)
    world.add_user(caller)
    use_case = CompleteChat(
        world.uow,
        world.model,
        world.catalog,
        limiter=AiRequestLimiter(world.limiter, {Tier.FREE: AI_FREE, Tier.PRO: AI_PRO}),
        budgets=BUDGETS,
        clock=world.clock,
        timeout_seconds=30,
    )
    return Gateway(world, use_case, key_id, caller)


async def test_a_completion_is_charged_once_to_the_user_and_the_key_at_catalog_prices(gateway: Gateway) -> None:
    gateway.model.script(Reply(model="priced"))
    result = await gateway.use_case.complete(
        gateway.caller,
        gateway.command(temperature=0.5, top_p=0.8, max_output_tokens=100, stop=("END",), seed=3,
                        response_format={"type": "json_object"})
    )  # fmt: skip
    assert result.text == "Hello there, friend."
    assert result.finish_reason is FinishReason.STOP
    assert result.usage == Usage(input_tokens=2, output_tokens=5)
    assert result.cost_micros == 7 * 1000  # $1,000 per million both ways
    [record] = gateway.usage
    assert (record.user_id, record.api_key_id, record.kind) == (
        gateway.caller.user_id,
        gateway.key_id,
        UsageKind.COMPLETION,
    )
    assert (record.model, record.cost_micros, record.conversation_id) == ("offline/priced", 7000, None)
    # What the admin analytics read: timing, no error, the model asked for answered.
    assert record.latency_ms is not None
    assert (record.error_code, record.fallback) == (None, False)
    [sent] = gateway.model.requests
    assert (sent.model, sent.temperature, sent.top_p, sent.seed, sent.stop) == ("offline/priced", 0.5, 0.8, 3, ("END",))
    assert sent.max_output_tokens == 100
    assert sent.response_format == {"type": "json_object"}
    assert sent.deadline == pytest.approx(gateway.world.clock.monotonic() + 30)
    report = await gateway.world.usage(gateway.caller, GetUsageQuery(group_by="api_key"))
    assert [(b.key, b.requests, b.cost_micros) for b in report.items] == [(str(gateway.key_id), 1, 7000)]


async def test_without_max_tokens_the_models_own_limit_is_asked(gateway: Gateway) -> None:
    await gateway.use_case.complete(gateway.caller, gateway.command())
    assert gateway.model.requests[0].max_output_tokens == 2048


async def test_a_stream_is_relayed_then_charged_once_however_often_it_is_settled(gateway: Gateway) -> None:
    stream = await gateway.use_case.stream(gateway.caller, gateway.command())
    assert [text async for text in stream.deltas()] == ["Hello", " there", ",", " friend", "."]
    first = await stream.settle()
    again = await stream.settle()
    assert first is again
    assert (first.text, first.model, first.usage.output_tokens, first.error_code) == (
        "Hello there, friend.", "offline/echo", 5, None
    )  # fmt: skip
    assert len(gateway.usage) == 1


async def test_a_stream_left_early_closes_the_upstream_call_and_charges_what_was_generated(gateway: Gateway) -> None:
    stream = await gateway.use_case.stream(gateway.caller, gateway.command())
    deltas = stream.deltas()
    assert isinstance(deltas, AsyncGenerator)
    assert await anext(deltas) == "Hello"
    await deltas.aclose()
    result = await stream.settle()
    assert gateway.model.closed == 1
    assert result.finish_reason is FinishReason.CANCELLED
    assert result.usage.estimated
    assert result.usage.output_tokens == estimate_tokens("Hello")
    assert [r.usage for r in gateway.usage] == [result.usage]


async def test_a_stream_failing_after_its_first_chunk_reports_the_error_and_charges_the_text(gateway: Gateway) -> None:
    gateway.model.script(Reply(fail_after=2, error=ProviderUnavailable("dropped")))
    stream = await gateway.use_case.stream(gateway.caller, gateway.command())
    assert [text async for text in stream.deltas()] == ["Hello", " there"]
    result = await stream.settle()
    assert (result.finish_reason, result.error_code, result.error_detail) == (
        FinishReason.ERROR, "provider_unavailable", "dropped"
    )  # fmt: skip
    assert len(gateway.usage) == 1
    assert gateway.usage[0].error_code == "provider_unavailable"
    assert gateway.usage[0].ttft_ms is not None


async def test_a_failure_before_the_first_chunk_is_raised_and_costs_nothing(gateway: Gateway) -> None:
    gateway.model.script(Reply(error_before=ProviderUnavailable("down")))
    with pytest.raises(ProviderUnavailable):
        await gateway.use_case.stream(gateway.caller, gateway.command())
    assert gateway.usage == []


async def test_a_spent_budget_refuses_before_any_model_is_called(gateway: Gateway) -> None:
    gateway.world.db.chat.budgets[gateway.caller.user_id] = 0
    with pytest.raises(BudgetExceeded):
        await gateway.use_case.complete(gateway.caller, gateway.command())
    with pytest.raises(BudgetExceeded):
        await gateway.use_case.stream(gateway.caller, gateway.command())
    assert gateway.model.requests == []


async def test_the_ai_allowance_is_the_chats_per_user(gateway: Gateway) -> None:
    for _ in range(AI_FREE.limit):
        await gateway.use_case.complete(gateway.caller, gateway.command())
    with pytest.raises(AiRequestsRateLimited) as limited:
        await gateway.use_case.complete(gateway.caller, gateway.command())
    assert limited.value.extra["retry_after"] >= 1
    assert len(gateway.model.requests) == AI_FREE.limit
    # Another user has an allowance of their own.
    other = principal()
    await gateway.use_case.complete(other, gateway.command())


async def test_callers_without_chat_cannot_call(gateway: Gateway) -> None:
    nobody = dataclasses.replace(principal(), permissions=frozenset())
    with pytest.raises(Forbidden):
        await gateway.use_case.complete(nobody, gateway.command())


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"temperature": 2.5}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"max_output_tokens": 0}, "max_tokens"),
        ({"max_output_tokens": 2049}, "max_tokens"),
        ({"stop": ("a", "b", "c", "d", "e")}, "stop"),
        ({"messages": ()}, "messages"),
    ],
)
async def test_options_out_of_range_are_refused_naming_the_parameter(
    gateway: Gateway, options: dict[str, object], param: str
) -> None:
    with pytest.raises(InvalidCompletionRequest) as refused:
        await gateway.use_case.complete(gateway.caller, gateway.command(**options))
    assert refused.value.extra["param"] == param
    assert gateway.model.requests == []


async def test_a_prompt_longer_than_the_window_is_refused(gateway: Gateway) -> None:
    long = (PromptMessage(MessageRole.USER, "word " * 300),)
    with pytest.raises(PromptTooLong):
        await gateway.use_case.complete(gateway.caller, gateway.command(model="offline/tiny", messages=long))
    # About 167 of the 200 tokens: without max_tokens the answer gets what is left; asking for 50 is refused.
    fits = (PromptMessage(MessageRole.USER, " ".join(["word"] * 130)),)
    left = 200 - estimate_prompt_tokens(fits)
    assert 0 < left < 50
    await gateway.use_case.complete(gateway.caller, gateway.command(model="offline/tiny", messages=fits))
    assert gateway.model.requests[-1].max_output_tokens == left
    with pytest.raises(PromptTooLong):
        await gateway.use_case.complete(
            gateway.caller, gateway.command(model="offline/tiny", messages=fits, max_output_tokens=50)
        )


async def test_models_are_named_by_id_or_by_an_unambiguous_short_name(gateway: Gateway) -> None:
    assert gateway.use_case.resolve_model("priced").id == "offline/priced"
    assert gateway.use_case.resolve_model("openai/nano").id == "openai/nano"
    with pytest.raises(UnknownModel):
        gateway.use_case.resolve_model("gpt-9")
    assert short_aliases(["a/x", "b/x", "a/y"]) == {"y": "a/y"}
    clock = FakeClock()
    both = [*MODELS, ModelInfo("openai/echo", "Echo too", context_window=8192, max_output_tokens=2048)]
    catalog = FileModelCatalog(both, configured_providers=("openai",), default_model="offline/echo")
    ambiguous = CompleteChat(
        FakeUnitOfWorkFactory(clock=clock),
        ScriptedChatModel(),
        catalog,
        limiter=AiRequestLimiter(MemoryRateLimiter(clock=clock.monotonic), {}),
        budgets=BUDGETS,
        clock=clock,
    )
    with pytest.raises(UnknownModel):
        ambiguous.resolve_model("echo")  # offline/echo or openai/echo: no alias
    # A model whose provider is not configured is not served, by either name.
    unconfigured = FileModelCatalog(MODELS, configured_providers=(), default_model="offline/echo")
    assert "nano" not in short_aliases(m.id for m in unconfigured.models() if unconfigured.is_available(m.id))


async def test_store_saves_the_exchange_as_a_conversation_in_the_same_write(gateway: Gateway) -> None:
    messages = (
        PromptMessage(MessageRole.SYSTEM, "Be kind."),
        PromptMessage(MessageRole.USER, "Hi"),
        PromptMessage(MessageRole.ASSISTANT, "Hello!"),
        PromptMessage(MessageRole.USER, "How are you?"),
    )
    commits = gateway.world.db.commits
    result = await gateway.use_case.complete(gateway.caller, gateway.command(messages=messages, store=True))
    assert gateway.world.db.commits == commits + 1
    conversation = gateway.world.db.chat.conversations[result.conversation_id]  # type: ignore[index]
    assert conversation.user_id == gateway.caller.user_id
    assert conversation.system_prompt == "Be kind."
    stored = sorted(gateway.world.db.chat.messages.values(), key=lambda m: m.seq)
    assert [(m.seq, m.role.value, m.content) for m in stored] == [
        (1, "user", "Hi"),
        (2, "assistant", "Hello!"),
        (3, "user", "How are you?"),
        (4, "assistant", "Hello there, friend."),
    ]
    assert stored[-1].usage == result.usage
    assert conversation.next_seq == 5
    assert conversation.token_total == sum(m.token_count for m in stored)
    [record] = gateway.usage
    assert (record.conversation_id, record.message_id) == (conversation.id, stored[-1].id)


async def test_a_pro_caller_gets_the_pro_allowance(gateway: Gateway) -> None:
    pro = principal(tier=Tier.PRO, role=Role.CREATOR)
    for _ in range(AI_FREE.limit + 1):
        await gateway.use_case.complete(pro, gateway.command())


async def test_with_a_ledger_the_usage_goes_through_its_group_commit_unless_stored(gateway: Gateway) -> None:
    world = gateway.world
    ledger = UsageLedger(world.uow)
    use_case = CompleteChat(
        world.uow,
        world.model,
        world.catalog,
        limiter=AiRequestLimiter(None, {}),
        budgets=BUDGETS,
        clock=world.clock,
        ledger=ledger,
    )
    await asyncio.gather(*(use_case.complete(gateway.caller, gateway.command()) for _ in range(5)))
    assert len(gateway.usage) == 5
    assert 1 <= ledger.commits <= 2
    stored = await use_case.complete(gateway.caller, gateway.command(store=True))
    assert ledger.commits <= 2  # the conversation and its usage record: one transaction of their own
    assert gateway.usage[-1].conversation_id == stored.conversation_id is not None


async def test_an_answer_from_another_model_than_the_one_asked_is_recorded_as_a_fallback(gateway: Gateway) -> None:
    gateway.model.script(Reply(model="echo"))  # the router's chain answered with offline/echo
    result = await gateway.use_case.complete(gateway.caller, gateway.command())
    assert result.model == "offline/echo"
    [record] = gateway.usage
    assert (record.model, record.fallback) == ("offline/echo", True)


async def test_a_completion_that_brings_the_month_to_80_percent_raises_the_charge_event(gateway: Gateway) -> None:
    """Regression: gateway calls never raised UsageCharged, so their spending never sent a budget alert."""
    from src.application.shared.events import DISPATCH_EVENT_JOB
    from src.domain.usage.model import month_start

    def charges() -> list[str]:
        return [
            str(m.payload["type"])
            for m in gateway.world.db.shared.outbox.values()
            if m.job_name == DISPATCH_EVENT_JOB and m.payload["type"] == "UsageCharged"
        ]

    gateway.model.script(Reply(model="priced"))
    await gateway.use_case.complete(gateway.caller, gateway.command())
    assert charges() == []  # far from the free tier's 5,000,000
    month = (gateway.caller.user_id, month_start(gateway.world.clock.now()).date())
    gateway.world.db.chat.months[month] = 3_995_000
    gateway.model.script(Reply(model="priced"))
    await gateway.use_case.complete(gateway.caller, gateway.command())  # +7,000: 80 %
    assert charges() == ["UsageCharged"]
