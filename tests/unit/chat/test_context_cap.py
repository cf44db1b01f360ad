"""A reply sends the latest messages that fit the conversation's cap, and the turns beyond it are
remembered through the running summary (src/application/chat/replies.py, summarize_conversation.py)."""

from __future__ import annotations

import dataclasses
import re
import uuid

import pytest

from src.application.chat.get_conversation import GetConversationQuery
from src.application.chat.jobs import SUMMARY_JOB
from src.application.chat.regenerate_reply import RegenerateReplyCommand
from src.application.chat.summarize_conversation import SummarizeConversationCommand
from src.application.chat.update_conversation import UpdateConversationCommand
from src.domain.chat.context import message_tokens
from src.domain.chat.errors import InvalidConversation
from src.domain.chat.summary import SUMMARY_NOTE_HEADER
from src.domain.llm import model as llm_model
from src.domain.llm.model import MessageRole
from tests.fakes.chat import Reply
from tests.unit.chat.conftest import ChatWorld


async def _talk(world: ChatWorld, conversation_id: uuid.UUID, count: int) -> None:
    for i in range(count):
        await world.exchange(f"message number {i} about the Lisbon trip", conversation_id)


def _summary_jobs(world: ChatWorld) -> list[dict[str, object]]:
    return [dict(m.payload) for m in world.db.shared.outbox.values() if m.job_name == SUMMARY_JOB]


async def _last_prompt(world: ChatWorld, conversation_id: uuid.UUID, content: str = "the last question") -> list:  # type: ignore[type-arg]
    world.model.requests.clear()
    await (await world.say(content, conversation_id=conversation_id)).result()
    return list(world.model.requests[-1].messages)


async def test_a_long_conversation_sends_only_the_latest_messages_within_the_deployment_cap() -> None:
    world = ChatWorld(context_tokens=100, summarize=False)
    conversation = await world.conversation()  # offline/echo: an 8192-token window
    await _talk(world, conversation.id, 40)
    prompt = await _last_prompt(world, conversation.id)
    assert prompt[-1].content == "the last question"
    assert sum(message_tokens(m.content) for m in prompt) <= 100
    contents = [m.content for m in world.messages if m.conversation_id == conversation.id]
    assert [m.content for m in prompt] == contents[-len(prompt) - 1 : -1]
    assert len(prompt) < 10 < len(contents)


async def test_the_conversation_cap_is_set_shown_and_reset(world: ChatWorld) -> None:
    conversation = await world.conversation()
    await _talk(world, conversation.id, 10)
    view = await world.update(world.me, UpdateConversationCommand(conversation.id, context_tokens=60))
    assert view.context_tokens == 60
    assert view.to_json()["context_tokens"] == 60
    prompt = await _last_prompt(world, conversation.id)
    assert sum(message_tokens(m.content) for m in prompt) <= 60
    view = await world.update(world.me, UpdateConversationCommand(conversation.id, context_tokens=None))
    assert view.context_tokens is None
    prompt = await _last_prompt(world, conversation.id, "and now?")
    assert len(prompt) == 23  # the whole short conversation fits the deployment's 16k


@pytest.mark.parametrize("value", [0, 8193])
async def test_a_cap_outside_the_model_window_is_refused(world: ChatWorld, value: int) -> None:
    conversation = await world.conversation()
    with pytest.raises(InvalidConversation):
        await world.update(world.me, UpdateConversationCommand(conversation.id, context_tokens=value))
    assert (await world.get(world.me, GetConversationQuery(conversation.id))).context_tokens is None


async def test_a_cap_is_checked_against_the_model_chosen_in_the_same_change(world: ChatWorld) -> None:
    conversation = await world.conversation()
    with pytest.raises(InvalidConversation):
        await world.update(
            world.me, UpdateConversationCommand(conversation.id, model="offline/tiny", context_tokens=500)
        )


async def test_the_message_answered_is_sent_even_when_it_alone_exceeds_the_cap(world: ChatWorld) -> None:
    conversation = await world.conversation()
    await _talk(world, conversation.id, 3)
    await world.update(world.me, UpdateConversationCommand(conversation.id, context_tokens=10))
    long = "a long question " * 50
    prompt = await _last_prompt(world, conversation.id, long)
    assert [m.content for m in prompt] == [long]


async def test_turns_beyond_the_cap_are_summarised_once_a_batch_fell_out() -> None:
    world = ChatWorld(context_tokens=100)
    conversation = await world.conversation()
    await _talk(world, conversation.id, 3)  # about 66 tokens: everything fits
    assert _summary_jobs(world) == []
    await _talk(world, conversation.id, 12)
    jobs = _summary_jobs(world)
    # One job, however many replies came since: the next waits until it has run.
    assert len(jobs) == 1
    assert jobs[0]["conversation_id"] == str(conversation.id)
    result = await world.summarize_job(
        SummarizeConversationCommand(conversation.id, below_token_start=int(str(jobs[0]["below_token_start"])))
    )
    assert result.source == "offline"
    assert result.turns > 0
    stored = world.db.chat.conversations[conversation.id]
    assert stored.summary
    assert "Lisbon" in stored.summary
    assert stored.summary_token_end == result.summary_token_end
    through = world.db.chat.messages[stored.summary_through_id]  # type: ignore[index]
    assert (through.token_start or 0) + through.token_count == stored.summary_token_end
    view = (await world.get(world.me, GetConversationQuery(conversation.id))).to_json()
    assert view["summary"] == stored.summary
    assert view["summary_through"] == str(through.id)
    # The next reply carries the summary in its system note, and none of the turns it covers.
    prompt = await _last_prompt(world, conversation.id)
    assert prompt[0].role is MessageRole.SYSTEM
    assert prompt[0].content.startswith(SUMMARY_NOTE_HEADER)
    assert stored.summary in prompt[0].content
    covered = {
        m.content
        for m in world.messages
        if m.role is MessageRole.USER and (m.token_start or 0) < stored.summary_token_end
    }
    assert covered
    assert not covered & {m.content for m in prompt[1:]}
    # No model was paid for the offline summary.
    assert [r.kind.value for r in world.db.chat.usage if r.kind.value == "summary"] == []


async def test_the_summary_is_updated_incrementally_by_a_cheap_model_and_charged() -> None:
    world = ChatWorld(providers=("openai",), context_tokens=100)
    conversation = await world.conversation(title="Trip")
    await _talk(world, conversation.id, 15)
    world.model.script(Reply(tokens=("They", " plan", " Lisbon."), provider="openai", model="nano"))
    first = _summary_jobs(world)[0]
    result = await world.summarize_job(
        SummarizeConversationCommand(conversation.id, int(str(first["below_token_start"])))
    )
    assert result.source == "model"
    assert world.model.requests[-1].model == "openai/nano"
    assert world.model.requests[-1].messages[1].content.startswith("Turns:")
    assert world.db.chat.conversations[conversation.id].summary == "They plan Lisbon."
    world.model.script(Reply())
    await _talk(world, conversation.id, 10)
    second = [j for j in _summary_jobs(world) if j != first]
    assert len(second) == 1
    world.model.script(Reply(tokens=("They", " plan", " Lisbon", " in", " May."), provider="openai", model="nano"))
    again = await world.summarize_job(
        SummarizeConversationCommand(conversation.id, int(str(second[0]["below_token_start"])))
    )
    transcript = world.model.requests[-1].messages[1].content
    assert transcript.startswith("Summary so far:\nThey plan Lisbon.\n\nTurns that followed:")
    assert again.summary_token_end > result.summary_token_end
    assert world.db.chat.conversations[conversation.id].summary == "They plan Lisbon in May."
    assert [r.kind.value for r in world.db.chat.usage].count("summary") == 2


async def test_a_summary_update_that_lost_a_race_is_not_stored_twice() -> None:
    world = ChatWorld(context_tokens=100)
    conversation = await world.conversation()
    await _talk(world, conversation.id, 15)
    below = int(str(_summary_jobs(world)[0]["below_token_start"]))
    first = await world.summarize_job(SummarizeConversationCommand(conversation.id, below))
    again = await world.summarize_job(SummarizeConversationCommand(conversation.id, below))
    assert first.source == "offline"
    assert again.source == "skipped"
    assert world.db.chat.conversations[conversation.id].summary_token_end == first.summary_token_end


async def test_summarize_false_stops_the_summary_and_its_use(world: ChatWorld) -> None:
    world = ChatWorld(context_tokens=100)
    conversation = await world.conversation()
    await _talk(world, conversation.id, 15)
    below = int(str(_summary_jobs(world)[0]["below_token_start"]))
    await world.summarize_job(SummarizeConversationCommand(conversation.id, below))
    view = await world.update(world.me, UpdateConversationCommand(conversation.id, summarize=False))
    assert view.summarize is False
    assert view.to_json()["summarize"] is False
    outbox_before = len(_summary_jobs(world))
    await _talk(world, conversation.id, 15)
    assert len(_summary_jobs(world)) == outbox_before
    prompt = await _last_prompt(world, conversation.id)
    assert all(m.role is not MessageRole.SYSTEM for m in prompt)


async def test_the_deployment_can_turn_the_summary_off() -> None:
    world = ChatWorld(context_tokens=100, summarize=False)
    conversation = await world.conversation()
    await _talk(world, conversation.id, 20)
    assert _summary_jobs(world) == []
    result = await world.summarize_job(SummarizeConversationCommand(conversation.id, below_token_start=10_000))
    assert result.source == "skipped"
    assert world.db.chat.conversations[conversation.id].summary is None


async def test_a_regenerated_reply_is_held_to_the_cap_and_answers_its_question() -> None:
    world = ChatWorld(context_tokens=100, summarize=False)
    conversation = await world.conversation()
    await _talk(world, conversation.id, 20)
    last = await world.exchange("the question answered again", conversation.id)
    world.model.requests.clear()
    handle = await world.regenerate(world.me, RegenerateReplyCommand(conversation.id, last.message_id))
    await handle.result()
    prompt = world.model.requests[-1].messages
    assert prompt[-1].content == "the question answered again"
    assert sum(message_tokens(m.content) for m in prompt) <= 100


async def test_a_summary_that_would_crowd_out_the_latest_turns_is_not_sent() -> None:
    """A summary longer than half the history's room (a small window, a small cap) took the whole room:
    a model with a 120-token window was sent 141 tokens. It is left out, and the turns it covers are
    read again as far as they fit."""
    world = ChatWorld(context_tokens=100)
    conversation = await world.conversation()
    await _talk(world, conversation.id, 15)
    stored = world.db.chat.conversations[conversation.id]
    world.db.chat.conversations[conversation.id] = dataclasses.replace(
        stored, summary="an old and long summary " * 40, summary_token_end=stored.token_total - 10
    )
    prompt = await _last_prompt(world, conversation.id)
    assert not any(m.content.startswith(SUMMARY_NOTE_HEADER) for m in prompt if m.role is MessageRole.SYSTEM)
    assert sum(message_tokens(m.content) for m in prompt) <= 100
    assert len(prompt) > 1  # earlier turns, not the question alone
    # A summary that fits is sent.
    stored = world.db.chat.conversations[conversation.id]
    world.db.chat.conversations[conversation.id] = dataclasses.replace(stored, summary="They planned Lisbon.")
    prompt = await _last_prompt(world, conversation.id)
    assert prompt[0].role is MessageRole.SYSTEM
    assert "They planned Lisbon." in prompt[0].content


@pytest.mark.parametrize("cap", [100, 400])
async def test_the_summary_job_keeps_the_summary_within_a_quarter_of_the_cap_so_replies_send_it(cap: int) -> None:
    """Regression: at CHAT_CONTEXT_TOKENS=400 the offline summary (up to 250 words) was longer than half
    the history's room, so replies left it out and the conversation lost its memory."""
    world = ChatWorld(context_tokens=cap)
    conversation = await world.conversation(system_prompt="Be brief.")
    for i in range(40):
        await world.exchange(
            f"Turn {i}: the lighthouse keeper counts {i} boats in the harbour tonight.", conversation.id
        )
    below = int(str(_summary_jobs(world)[0]["below_token_start"]))
    result = await world.summarize_job(SummarizeConversationCommand(conversation.id, below))
    summary = world.db.chat.conversations[conversation.id].summary
    assert result.source == "offline"
    assert summary
    assert "lighthouse" in summary
    assert message_tokens(summary) <= cap // 4
    prompt = await _last_prompt(world, conversation.id)
    assert prompt[0].content.startswith(f"Be brief.\n\n{SUMMARY_NOTE_HEADER}\n{summary}")


async def test_a_model_is_asked_for_a_summary_that_fits_and_a_longer_answer_is_cut() -> None:
    world = ChatWorld(providers=("openai",), context_tokens=100)
    conversation = await world.conversation(title="Trip")
    await _talk(world, conversation.id, 15)
    world.model.script(Reply(tokens=tuple(f" word{i}" for i in range(200)), provider="openai", model="nano"))
    first = _summary_jobs(world)[0]
    await world.summarize_job(SummarizeConversationCommand(conversation.id, int(str(first["below_token_start"]))))
    request = world.model.requests[-1]
    assert "at most 15 words" in request.messages[0].content  # a quarter of 100 tokens
    assert request.max_output_tokens == 30
    summary = world.db.chat.conversations[conversation.id].summary
    assert summary is not None
    assert summary.endswith("…")
    assert message_tokens(summary) <= 25


class _CountingWords:
    """Stands in for ``model._WORDS``: counts the word counts of long texts (the estimate's cost)."""

    def __init__(self, words: re.Pattern[str]) -> None:
        self._words = words
        self.long_texts = 0

    def findall(self, text: str) -> list[str]:
        if len(text) >= 2048:
            self.long_texts += 1
        return self._words.findall(text)


async def test_a_long_running_summary_is_counted_once_not_at_every_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14: a reply used the running summary's token estimate four times (its room, the history's
    budget, the prompt, the reply's cost), each a word count of the whole summary (~1 ms for a 4,000-token
    summary): at the default cap a reply in a long conversation cost twice a short one's CPU. The
    estimate of a long text is remembered: the summary is counted once, and not again on the next reply."""
    world = ChatWorld()
    conversation = await world.conversation()
    await _talk(world, conversation.id, 6)
    summary = " ".join(f"fact{n}-{uuid.uuid4().hex[:6]}." for n in range(600))  # ~12 KB, new to the estimate
    stored = world.db.chat.conversations[conversation.id]
    world.db.chat.conversations[conversation.id] = dataclasses.replace(
        stored, summary=summary, summary_token_end=stored.token_total - 50
    )
    counting = _CountingWords(llm_model._WORDS)
    monkeypatch.setattr(llm_model, "_WORDS", counting)
    prompt = await _last_prompt(world, conversation.id)
    assert summary in prompt[0].content  # the summary is sent
    assert counting.long_texts == 2  # the summary, and the system text that holds it
    prompt = await _last_prompt(world, conversation.id, "one more question")
    assert summary in prompt[0].content
    assert counting.long_texts == 2  # neither counted again
