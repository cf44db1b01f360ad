"""Context: a reply's CPU and time to first token at 5 vs 500 messages of history, capped and not.

In this process, on PostgreSQL (a throwaway database on ``BENCH_DATABASE_URL``), the other services on
their embedded defaults, replies from ``openai/gpt-4.1-mini`` (a 1M-token window in the catalog) through
the real OpenAI adapter to the wire-format fake upstream in a process of its own
(``bench/fake_upstream.py``: zero delay, a 9-word answer), so that what a history costs the database
client, the prompt building and the SDK is counted here, and the upstream's own CPU is not.

Seeded histories alternate a ~40-word user message and a ~150-word assistant message (~250 estimated
tokens a message on average; 500 messages are ~126k tokens). Conversations:

- ``short``: 5 messages (a fresh conversation for every sample, so it stays short);
- ``long_capped``: 500 messages, the default cap (``CHAT_CONTEXT_TOKENS``, 16,000): the latest ~64
  messages are read and sent;
- ``long_uncapped``: 500 messages with its ``context_tokens`` at the model's whole window, what every
  reply sent before the cap existed: all 500;
- ``long_summarized``: 500 messages with a running summary of ~4,000 tokens (a quarter of the cap, the
  summary job's bound) covering everything before the latest half cap's worth of turns, sent in the
  system note with those turns (the deployment's summaries on; the other long conversations
  have theirs off).

``SAMPLES`` replies of each, interleaved, one at a time; per reply, the process CPU time
(``time.process_time``) and the wall time to the first delta, from just before the send to the stored
reply. After each reply, the very request body it sent (the adapter's, recorded) is posted to the
upstream directly (``bench/stream_client.py``, one keep-alive connection per conversation) and its
first chunk timed: a 500-message conversation's ~64 messages are a ~100 KB body that the fake reads
and parses before it answers, as a provider would, so the wall time to the first token grows with the
prompt however lean Parley is. ``*_added_ttft_ms_p50`` is the wall time less the upstream's own (the
p50 of each), the time to first token Parley adds, which is what ``bench_gateway`` compares too.
Recording the body (encoding it once more, ~0.15 ms for a long conversation's) is the benchmark's own
work, done during the send: its CPU and wall time are taken out of the reply's figures. Each timed reply
starts from a settled process (``settle``: the previous reply's leftover tasks run, its garbage is
collected): the reply after an uncapped one had paid for that one's cyclic collection.

No summary job runs while replies are timed (the CLI role: no outbox relay, no job runner; the
seeded summary is not due again for thousands of tokens); one update of a 500-message conversation's
summary (``SUMMARY_INPUT_TOKENS`` of turns, through the same upstream) is
timed apart: it runs once per quarter-cap of history, not per reply.

    uv run python -m bench context        # BENCH_CONTEXT_SAMPLES=30 by default
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.bench_gateway import System, fake_upstream, one_stream, openai_stream
from bench.stream_client import StreamConnection
from bench.support import DATABASE_URL, admin
from src.application.chat.send_message import SendMessageCommand
from src.application.chat.summarize_conversation import SummarizeConversationCommand
from src.application.chat.update_conversation import UpdateConversationCommand
from src.application.shared.ids import new_id
from src.domain.chat.context import context_threshold, message_tokens
from src.domain.chat.model import Conversation, Message, MessageStatus
from src.domain.identity.model import Principal, Role, Tier, User, permissions_of
from src.domain.llm.model import FinishReason, MessageRole, Usage
from src.infrastructure.container import Container, build_container
from src.infrastructure.persistence.migrator import Migrator
from src.infrastructure.security.passwords import DUMMY_HASH
from src.infrastructure.settings import load_settings

SAMPLES = int(os.environ.get("BENCH_CONTEXT_SAMPLES", "30"))
MODEL = "openai/gpt-4.1-mini"
LONG = 500
SHORT = 5
USER_TEXT = " ".join(f"question{n:03d}" for n in range(40)) + "?"
ASSISTANT_TEXT = " ".join(f"answer{n:03d}" for n in range(150)) + "."
SEND_TEXT = "What did we decide about the harbour, and what comes next?"


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def history(conversation: Conversation, count: int, now: Any) -> list[Message]:
    """``count`` complete messages, user and assistant in turn, with their running token counts."""
    messages, token_start = [], 0
    for n in range(count):
        at = now - timedelta(seconds=count - n)
        assistant = n % 2 == 1
        text = ASSISTANT_TEXT if assistant else USER_TEXT
        tokens = message_tokens(text)
        messages.append(
            Message(
                id=new_id(at),
                conversation_id=conversation.id,
                user_id=conversation.user_id,
                seq=n + 1,
                role=MessageRole.ASSISTANT if assistant else MessageRole.USER,
                content=text,
                status=MessageStatus.COMPLETE,
                created_at=at,
                updated_at=at,
                model=MODEL,
                provider="openai",
                finish_reason=FinishReason.STOP if assistant else None,
                usage=Usage(input_tokens=tokens, output_tokens=tokens) if assistant else None,
                token_start=token_start,
                token_count=tokens,
            )
        )
        token_start += tokens
    conversation.token_total, conversation.next_seq = token_start, count + 1
    return messages


async def seed(container: Container, principal: Principal, count: int) -> uuid.UUID:
    now = container.clock.now()
    conversation = Conversation.start(id=new_id(now), user_id=principal.user_id, model=MODEL, now=now, title="Bench")
    messages = history(conversation, count, now)
    async with container.uow() as tx:
        await tx.conversations.add(conversation)
        for message in messages:
            await tx.messages.add(message)
    return conversation.id


async def one_reply(
    container: Container, principal: Principal, conversation_id: uuid.UUID, sent: SentBodies | None = None
) -> tuple[float, float]:
    """(CPU seconds, seconds to the first delta) of one reply, sent and stored; less what ``sent`` spent
    recording its body (before the call, so before the first delta)."""
    recorded = (sent.cpu, sent.wall) if sent is not None else (0.0, 0.0)
    cpu, wall = time.process_time(), time.perf_counter()
    handle = await container.use_cases.chat.send_message(principal, SendMessageCommand(SEND_TEXT, conversation_id))
    first = None
    async for event in handle.events():
        if event.kind == "delta" and first is None:
            first = time.perf_counter() - wall
        if event.terminal:
            if event.kind != "done":
                raise RuntimeError(f"the reply failed: {dict(event.data)}")
            break
    await handle.result()
    spent_cpu, spent_wall = (sent.cpu - recorded[0], sent.wall - recorded[1]) if sent is not None else (0.0, 0.0)
    return time.process_time() - cpu - spent_cpu, first - spent_wall if first is not None else float("nan")


#: A running summary at the summary job's bound (a quarter of the default cap): ~4,000 estimated tokens.
SUMMARY_TEXT = " ".join(f"Fact {n:04d} was agreed." for n in range(1000))


async def with_summary(container: Container, conversation_id: uuid.UUID, cap: int) -> None:
    """Give the conversation ``SUMMARY_TEXT`` as its running summary of every turn before the latest half
    ``cap`` of tokens (not due for an update again until thousands more tokens of turns fall out)."""
    async with container.uow() as tx:
        conversation = await tx.conversations.get(conversation_id)
        assert conversation is not None
        covered = context_threshold(token_total=conversation.token_total, budget=cap // 2)
        await tx.session.execute(
            text("UPDATE conversation SET summary = :summary, summary_token_end = :end WHERE id = :id"),
            {"summary": SUMMARY_TEXT, "end": covered, "id": conversation_id},
        )


def figures(label: str, samples: Sequence[tuple[float, float]], upstream: Sequence[float]) -> dict[str, float]:
    cpu = [c for c, _ in samples]
    ttft = [t for _, t in samples]
    return {
        f"{label}_cpu_ms_p50": ms(statistics.median(cpu)),
        f"{label}_cpu_ms_mean": ms(statistics.fmean(cpu)),
        f"{label}_ttft_ms_p50": ms(statistics.median(ttft)),
        f"{label}_upstream_first_chunk_ms_p50": ms(statistics.median(upstream)),
        f"{label}_added_ttft_ms_p50": ms(statistics.median(ttft) - statistics.median(upstream)),
    }


async def settle() -> None:
    """Before a timed reply: the previous reply's leftover tasks run (its stream's end, its events), and
    the garbage it left is collected. Otherwise the reply after an uncapped one (500 messages read and
    sent) was charged for those: its cyclic collection, and the tasks still running."""
    await asyncio.sleep(0.005)
    gc.collect()


class SentBodies:
    """Records the JSON body of each streamed call the OpenAI adapter makes (its ``_body``, plus the
    stream fields ``_events`` adds), to post the same bytes to the upstream directly."""

    def __init__(self, adapter: Any) -> None:
        self.last: bytes = b""
        #: The CPU and wall seconds spent recording so far: the benchmark's, not Parley's (a long
        #: conversation's body is ~60 KB to encode once more, ~0.15 ms), taken out of each reply's figures.
        self.cpu = self.wall = 0.0
        build = adapter._body

        def recording(request: Any, model: str) -> dict[str, Any]:
            body: dict[str, Any] = build(request, model)
            cpu, wall = time.process_time(), time.perf_counter()
            self.last = msgspec.json.encode({**body, "stream": True, "stream_options": {"include_usage": True}})
            self.cpu += time.process_time() - cpu
            self.wall += time.perf_counter() - wall
            return body

        adapter._body = recording


async def upstream_first_chunk(connection: StreamConnection, upstream: str, body: bytes) -> float:
    """Seconds to the first content chunk of ``body`` posted to the upstream directly."""
    system = System([f"{upstream}/chat/completions"], {"Authorization": "Bearer sk-bench"}, body, openai_stream)
    first, _ = await one_stream(connection, system, system.urls[0])
    return first


async def measure(upstream: str, database_url: str) -> dict[str, Any]:
    settings = load_settings(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "benchmark-secret-key-0123456789-abcdef",
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_BASE_URL": upstream,
            "RATE_LIMIT_ENABLED": "false",
            "BUDGET_FREE_MONTHLY_USD": "100000",
            "CHAT_CONTEXT_SUMMARY": "true",
            "LOG_LEVEL": "WARNING",
        },
        env_file=None,
    )
    await asyncio.to_thread(Migrator(settings).upgrade)
    # The CLI's role: replies are generated in this process, and no outbox relay or job runner runs.
    container = build_container(settings, role="cli")
    await container.startup()
    now = container.clock.now()
    user = User(
        id=new_id(now),
        email="context-bench@example.com",
        display_name="Bench",
        password_hash=DUMMY_HASH,
        role=Role.CREATOR,
        tier=Tier.FREE,
        is_active=True,
        created_at=now,
        updated_at=now,
    )
    async with container.uow() as tx:
        await tx.users.add(user)
    principal = Principal(
        user_id=user.id, email=user.email, role=user.role, tier=user.tier, permissions=permissions_of(user.role)
    )
    try:
        shorts = [await seed(container, principal, SHORT) for _ in range(SAMPLES + 3)]
        capped = await seed(container, principal, LONG)
        uncapped = await seed(container, principal, LONG)
        summarized = await seed(container, principal, LONG)
        info = container.model_catalog.resolve(MODEL)
        update = container.use_cases.chat.update_conversation
        await update(principal, UpdateConversationCommand(capped, summarize=False))
        await update(
            principal, UpdateConversationCommand(uncapped, context_tokens=info.context_window, summarize=False)
        )
        await with_summary(container, summarized, settings.chat.context_tokens)
        results: dict[str, list[tuple[float, float]]] = {
            "short": [],
            "long_capped": [],
            "long_uncapped": [],
            "long_summarized": [],
        }
        upstream_firsts: dict[str, list[float]] = {label: [] for label in results}
        body_sizes: dict[str, int] = {}
        sent = SentBodies(container.llm_providers["openai"])
        connections = {label: StreamConnection(upstream) for label in results}
        conversations = (("long_capped", capped), ("long_uncapped", uncapped), ("long_summarized", summarized))
        try:
            for n in range(SAMPLES + 3):  # the first three warm up
                for label, conversation_id in (("short", shorts[n]), *conversations):
                    await settle()
                    sample = await one_reply(container, principal, conversation_id, sent)
                    direct = await upstream_first_chunk(connections[label], upstream, sent.last)
                    body_sizes[label] = len(sent.last)
                    if n >= 3:
                        results[label].append(sample)
                        upstream_firsts[label].append(direct)
        finally:
            for connection in connections.values():
                await connection.close()
        history_tokens = (message_tokens(USER_TEXT) + message_tokens(ASSISTANT_TEXT)) * LONG // 2
        out: dict[str, Any] = {"samples": SAMPLES, "long_history_tokens": history_tokens}
        for label, samples in results.items():
            out.update(figures(label, samples, upstream_firsts[label]))
            out[f"{label}_request_body_kb"] = round(body_sizes[label] / 1024, 1)
        for label in ("long_capped", "long_uncapped", "long_summarized"):
            out[f"{label}_vs_short_cpu_ratio"] = round(out[f"{label}_cpu_ms_p50"] / out["short_cpu_ms_p50"], 2)
            out[f"{label}_vs_short_ttft_ratio"] = round(out[f"{label}_ttft_ms_p50"] / out["short_ttft_ms_p50"], 2)
            out[f"{label}_vs_short_added_ttft_ratio"] = round(
                out[f"{label}_added_ttft_ms_p50"] / out["short_added_ttft_ms_p50"], 2
            )
        # One update of the running summary (enabled for this call only), through the same upstream.
        await update(principal, UpdateConversationCommand(capped, summarize=True))
        summarize = type(container.use_cases.chat.summarize_conversation)(
            container.uow,
            container.chat_model,
            container.model_catalog,
            container.clock,
            context_tokens=settings.chat.context_tokens,
            enabled=True,
        )
        cpu, wall = time.process_time(), time.perf_counter()
        result = await summarize(SummarizeConversationCommand(capped, below_token_start=10**9))
        out["summary_update_turns"] = result.turns
        out["summary_update_source"] = result.source
        out["summary_update_cpu_ms"] = ms(time.process_time() - cpu)
        out["summary_update_wall_ms"] = ms(time.perf_counter() - wall)
        return out
    finally:
        await container.shutdown()
        await container.database.get_engine().dispose()


def run() -> dict[str, Any]:
    database = f"bench_context_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(f'CREATE DATABASE "{database}"'))
    database_url = make_url(DATABASE_URL).set(database=database).render_as_string(hide_password=False)
    try:
        with fake_upstream() as upstream:
            return asyncio.run(measure(upstream, database_url))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
