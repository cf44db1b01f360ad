"""`parley chat` and `parley conversations export`, run as real processes with lines on stdin, on the
embedded defaults (SQLite, no Redis: the CLI process writes the replies itself)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PARLEY, CliResult, RunCli

pytestmark = pytest.mark.e2e

ADA = "ada.chat@example.com"
BOB = "bob.chat@example.com"
PASSWORD = "violet-harbour-lantern-93"
NEW_CONVERSATION = re.compile(r"^\[new conversation ([0-9a-f-]{36})\]$", re.MULTILINE)
#: The dim line under each reply: model, tokens, cost, time.
REPLY_NOTE = re.compile(r"^\[(?:stopped · )?offline/\w+ · ~?\d+ in / ~?\d+ out tokens · \$\d+\.\d+ · \d+\.\d\d s\]$")

Chat = Callable[..., CliResult]


@pytest.fixture
def chat(cli_env: dict[str, str], tmp_path: Path, run_cli: RunCli) -> Chat:
    """`parley <args>` with ``stdin`` piped in, on a migrated database where Ada and Bob exist."""
    assert run_cli("db", "upgrade").code == 0

    def run(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> CliResult:
        completed = subprocess.run(
            [PARLEY, *args],
            env={**cli_env, "OFFLINE_TOKEN_DELAY_MS": "0", **(env or {})},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        return CliResult(completed.returncode, completed.stdout, completed.stderr)

    for email in (ADA, BOB):
        created = run("users", "create", "--email", email, "--password-stdin", stdin=PASSWORD + "\n")
        assert created.code == 0, created.stderr
    return run


def start_chat(cli_env: dict[str, str], *, token_delay_ms: int) -> subprocess.Popen[str]:
    """`parley chat --user ADA` running, its standard streams piped, the offline model writing a word
    every ``token_delay_ms``."""
    return subprocess.Popen(
        [PARLEY, "chat", "--user", ADA],
        env={**cli_env, "OFFLINE_TOKEN_DELAY_MS": str(token_delay_ms)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(cli_env["PARLEY_VAR_DIR"]).parent,
    )


def said(stderr: str) -> list[str]:
    """What the command told the person on stderr (log lines are JSON)."""
    return [line for line in stderr.splitlines() if line and not line.startswith("{")]


def export_json(chat: Chat, conversation_id: str) -> dict[str, Any]:
    exported = chat("conversations", "export", conversation_id, "--format", "json")
    assert exported.code == 0, exported.stderr
    document: dict[str, Any] = json.loads(exported.stdout)
    return document


def test_piped_lines_are_sent_one_by_one_and_resumed_with_conversation(chat: Chat) -> None:
    first = chat("chat", "--user", ADA, stdin="Hello there\nA second message\n")

    assert first.code == 0, first.stderr
    assert said(first.stderr) == []
    started = NEW_CONVERSATION.findall(first.stdout)
    assert len(started) == 1, first.stdout  # the second message went to the same conversation
    conversation_id = started[0]
    lines = first.stdout.splitlines()
    assert lines[1] == "Hello there"
    assert REPLY_NOTE.match(lines[2]), first.stdout
    assert lines[3] == "A second message"
    assert REPLY_NOTE.match(lines[4]), first.stdout
    assert len(lines) == 5

    document = export_json(chat, conversation_id)
    messages = document["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "Hello there"),
        ("assistant", "Hello there"),
        ("user", "A second message"),
        ("assistant", "A second message"),
    ]
    assert {m["finish_reason"] for m in messages if m["role"] == "assistant"} == {"stop"}
    assert {m["status"] for m in messages} == {"complete"}

    resumed = chat("chat", "--user", ADA, "--conversation", conversation_id, stdin="And a third\n")

    assert resumed.code == 0, resumed.stderr
    lines = resumed.stdout.splitlines()
    assert lines[0] == f"conversation {conversation_id} · untitled · offline/echo · 4 messages"
    assert lines[1:5] == [
        "you: Hello there",
        "assistant: Hello there",
        "you: A second message",
        "assistant: A second message",
    ]
    assert lines[5] == "And a third"
    assert REPLY_NOTE.match(lines[6])
    assert not NEW_CONVERSATION.search(resumed.stdout)
    contents = [m["content"] for m in export_json(chat, conversation_id)["messages"]]
    assert contents[-2:] == ["And a third", "And a third"]
    assert len(contents) == 6


def test_slash_commands_switch_models_rename_and_start_a_new_conversation(chat: Chat) -> None:
    script = "\n".join(
        [
            "/models",
            "/model offline/lorem",
            "Tell me something",
            "/title Lorem talk",
            "/model nope/missing",
            "/new",
            "/model offline/echo",
            "Echo me, please?",
            "/quit",
            "never sent",
        ]
    )
    result = chat("chat", "--user", ADA, stdin=script + "\n")

    assert result.code == 0, result.stderr
    assert "offline/echo  (default)" in result.stdout
    assert "offline/lorem" in result.stdout
    assert "title: Lorem talk" in result.stdout
    first, second = NEW_CONVERSATION.findall(result.stdout)
    # The unknown model is refused at once, naming the available ones; the chosen one stays.
    assert said(result.stderr) == [
        "error: This model is not available: 'nope/missing'; available: offline/echo, offline/lorem"
    ]
    lorem = export_json(chat, first)
    assert lorem["conversation"]["title"] == "Lorem talk"
    assert [m["model"] for m in lorem["messages"]] == ["offline/lorem", "offline/lorem"]
    assert lorem["messages"][1]["content"] != "Tell me something"
    echoed = export_json(chat, second)
    assert [(m["model"], m["content"]) for m in echoed["messages"]] == [("offline/echo", "Echo me, please?")] * 2
    assert "never sent" not in result.stdout


def test_refusals_are_one_clear_line(chat: Chat) -> None:
    nobody = chat("chat", "--user", "nobody@example.com", stdin="hello\n")
    assert nobody.code == 1
    assert said(nobody.stderr) == ["error: User not found: no user with email or id 'nobody@example.com'"]

    bad_model = chat("chat", "--user", ADA, "--model", "openai/gpt-4.1-mini", stdin="hello\n")
    assert bad_model.code == 2
    (line,) = said(bad_model.stderr)
    assert line.startswith("error: This model is not available: 'openai/gpt-4.1-mini'; available: offline/echo")

    ada = chat("chat", "--user", ADA, stdin="mine\n")
    (conversation_id,) = NEW_CONVERSATION.findall(ada.stdout)
    not_bobs = chat("chat", "--user", BOB, "--conversation", conversation_id, stdin="hello\n")
    assert not_bobs.code == 1
    assert said(not_bobs.stderr) == ["error: Conversation not found"]

    assert chat("users", "set-budget", ADA, "0").code == 0
    broke = chat("chat", "--user", ADA, stdin="one more\n")
    assert broke.code == 1, "a refused message fails a piped chat"
    (line,) = said(broke.stderr)
    assert line.startswith("error: Monthly budget exceeded: you spent $0.00 of your $0.00 monthly budget")
    assert not NEW_CONVERSATION.search(broke.stdout)


def test_ctrl_c_stops_the_reply_being_written_and_the_chat_goes_on(cli_env: dict[str, str], chat: Chat) -> None:
    long_message = " ".join(f"word{i}" for i in range(300))
    process = start_chat(cli_env, token_delay_ms=40)  # 300 words: 12 s, unless stopped
    try:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(long_message + "\n")
        process.stdin.flush()
        started = process.stdout.readline()
        assert NEW_CONVERSATION.match(started.strip()), started
        assert process.stdout.read(5) == "word0"  # the reply is streaming
        process.send_signal(signal.SIGINT)
        process.stdin.write("still here?\n")
        process.stdin.close()
        rest = process.stdout.read()
        stderr = process.stderr.read() if process.stderr else ""
        assert process.wait(timeout=60) == 0, stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    lines = rest.splitlines()
    assert lines[1].startswith("[stopped · offline/echo · "), rest
    assert REPLY_NOTE.match(lines[1]), rest
    assert lines[2] == "still here?", rest
    assert REPLY_NOTE.match(lines[3]), rest
    assert len(lines) == 4, rest
    (conversation_id,) = NEW_CONVERSATION.findall(started)
    messages = export_json(chat, conversation_id)["messages"]
    stopped = messages[1]
    assert stopped["finish_reason"] == "cancelled"
    assert stopped["status"] == "complete"
    assert 0 < len(stopped["content"]) < len(long_message), "the text so far is kept"
    assert long_message.startswith(stopped["content"])
    assert [m["content"] for m in messages[2:]] == ["still here?", "still here?"]


def test_export_as_markdown_or_json_to_a_file_as_the_operator_or_the_owner(chat: Chat, tmp_path: Path) -> None:
    ada = chat("chat", "--user", ADA, stdin="/title Recipes\nBread or cake?\n/title Recipes\n")
    assert ada.code == 0, ada.stderr
    (conversation_id,) = NEW_CONVERSATION.findall(ada.stdout)
    assert "no conversation yet: the first message starts one" in ada.stdout

    markdown = chat("conversations", "export", conversation_id, "--format", "markdown")
    assert markdown.code == 0, markdown.stderr
    assert markdown.stdout.startswith("# Recipes\n")
    assert "## You\n\nBread or cake?\n\n## Assistant\n\nBread or cake?" in markdown.stdout
    assert "- Model: `offline/echo`" in markdown.stdout

    target = tmp_path / "out" / "recipes.json"
    target.parent.mkdir()
    written = chat(
        "conversations", "export", conversation_id, "--format", "json", "--output", str(target), "--user", ADA
    )
    assert written.code == 0, written.stderr
    assert said(written.stderr) == [f"wrote 2 messages to {target}"]
    document = json.loads(target.read_text())
    assert document["conversation"]["id"] == conversation_id
    assert document["conversation"]["title"] == "Recipes"
    assert [m["role"] for m in document["messages"]] == ["user", "assistant"]

    as_bob = chat("conversations", "export", conversation_id, "--user", BOB)
    assert as_bob.code == 1
    assert said(as_bob.stderr) == ["error: Conversation not found"]
    missing = chat("conversations", "export", "00000000-0000-0000-0000-000000000000")
    assert missing.code == 1
    assert said(missing.stderr) == ["error: Conversation not found"]
    bad_format = chat("conversations", "export", conversation_id, "--format", "pdf")
    assert bad_format.code == 2
    assert "'pdf' is not one of 'json', 'markdown'" in bad_format.stderr


def test_sigterm_stops_the_reply_stores_it_and_leaves(cli_env: dict[str, str], chat: Chat) -> None:
    long_message = " ".join(f"word{i}" for i in range(300))
    process = start_chat(cli_env, token_delay_ms=40)  # 300 words: 12 s, unless stopped
    try:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(long_message + "\nnever sent\n")
        process.stdin.flush()
        started = process.stdout.readline()
        assert NEW_CONVERSATION.match(started.strip()), started
        assert process.stdout.read(5) == "word0"  # the reply is streaming
        process.send_signal(signal.SIGTERM)
        rest = process.stdout.read()
        stderr = process.stderr.read() if process.stderr else ""
        assert process.wait(timeout=30) == 0, stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert "never sent" not in rest
    assert not said(stderr), stderr
    (conversation_id,) = NEW_CONVERSATION.findall(started)
    messages = export_json(chat, conversation_id)["messages"]
    assert len(messages) == 2, "the chat left after storing the stopped reply"
    assert messages[1]["finish_reason"] == "cancelled"
    assert 0 < len(messages[1]["content"]) < len(long_message)


def test_a_reader_that_goes_away_ends_the_chat_quietly(cli_env: dict[str, str], chat: Chat) -> None:
    """`parley chat < questions | head -c 5`: no traceback or error line when the pipe closes."""
    process = start_chat(cli_env, token_delay_ms=20)
    try:
        assert process.stdin is not None
        assert process.stdout is not None
        words = " ".join(f"word{i}" for i in range(200))
        process.stdin.write(f"{words}\n{words}\n")
        process.stdin.close()
        assert NEW_CONVERSATION.match(process.stdout.readline().strip())
        process.stdout.read(5)
        process.stdout.close()  # the reader is gone: the next write hits a closed pipe
        stderr = process.stderr.read() if process.stderr else ""
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "BrokenPipe" not in stderr, stderr
    assert "Traceback" not in stderr, stderr
    assert not said(stderr), stderr
    assert code == 0
