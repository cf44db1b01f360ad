"""`parley paragraphs ...`, `parley dictionary` and `parley articles import`, run as an operator would."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import PARLEY, CliResult, RunCli
from tests.fake_http_server import Answer, FakeHttpServer, fake_http_server

pytestmark = pytest.mark.e2e

PASSWORD = "violet-harbour-lantern-93"
SOURCE_PATH = "/paragraphs/1/50"

Parley = Callable[..., CliResult]


@pytest.fixture
def source() -> Iterator[FakeHttpServer]:
    with fake_http_server() as running:
        yield running


@pytest.fixture
def parley(cli_env: dict[str, str], tmp_path: Path, run_cli: RunCli, source: FakeHttpServer) -> Parley:
    """The CLI on a migrated database, its paragraph source the local fake, with text on stdin."""
    assert run_cli("db", "upgrade").code == 0
    env = {**cli_env, "PARAGRAPH_SOURCE_URL": source.url + SOURCE_PATH, "PARAGRAPH_SOURCE_TIMEOUT": "2"}

    def run(*args: str, stdin: str = "") -> CliResult:
        completed = subprocess.run(
            [PARLEY, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60, cwd=tmp_path
        )
        return CliResult(completed.returncode, completed.stdout, completed.stderr)

    return run


def said(result: CliResult) -> list[str]:
    """What the command told a person on stderr (log lines are JSON)."""
    return [line for line in result.stderr.splitlines() if not line.startswith("{")]


@pytest.mark.parametrize(
    "command",
    [["paragraphs"], ["paragraphs", "fetch"], ["paragraphs", "search"], ["dictionary"], ["articles", "import"]],
)
def test_every_knowledge_command_has_help(run_cli: RunCli, command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.code == 0
    assert "Usage: parley" in result.stdout


def test_fetch_search_and_dictionary(parley: Parley, source: FakeHttpServer) -> None:
    texts = ["One cat, one hat.", "None of them; someone's cat.", "The dog doesn't bark."]
    for text in texts:
        source.answer(SOURCE_PATH, Answer(body=text.encode()))
        fetched = parley("paragraphs", "fetch", "--count", "1")
        assert fetched.code == 0, fetched.stderr
        assert fetched.stdout.strip() == "fetched 1 paragraph"
    assert "fetching paragraphs" in fetched.stderr  # the progress bar

    found = parley("paragraphs", "search", "ONE")
    assert found.code == 0, found.stderr
    assert found.stdout.splitlines()[0] == "1 paragraph match"
    assert texts[0] in found.stdout
    assert texts[1] not in found.stdout
    either = parley("paragraphs", "search", "someone", "doesn't", "--or")
    assert either.stdout.splitlines()[0] == "2 paragraphs match"
    both = parley("paragraphs", "search", "cat", "hat")
    assert both.stdout.splitlines()[0] == "1 paragraph match"

    refused = parley("paragraphs", "search", "cat", "h*t")
    assert refused.code == 2
    assert said(refused) == ["error: 'h*t' is not a search word: use 1-50 letters, digits or apostrophes"]

    table = parley("dictionary")
    assert table.code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["WORD", "COUNT", "PHONETIC", "DEFINITION"]
    assert lines[1].split()[:2] == ["cat", "2"]
    assert lines[2].split()[:2] == ["one", "2"]
    assert said(table) == ["definitions unavailable: no dictionary service (DICTIONARY_API_URL), or it failed"]
    without = parley("dictionary", "--exclude-stopwords")
    assert [line.split()[0] for line in without.stdout.splitlines()[1:3]] == ["cat", "bark"]


def test_a_failing_source_stops_the_fetch_with_one_line(parley: Parley, source: FakeHttpServer) -> None:
    source.answer(SOURCE_PATH, Answer(500, b"oops"))
    failed = parley("paragraphs", "fetch", "--count", "3")
    assert failed.code == 1
    assert said(failed)[-1] == (
        "error: The paragraph source failed: it answered HTTP 500; nothing was stored (0 of 3 fetched)"
    )
    assert parley("paragraphs", "search", "oops").stdout.splitlines()[0] == "0 paragraphs match"


def test_markdown_files_are_imported_as_a_users_articles(parley: Parley, tmp_path: Path, var_dir: Path) -> None:
    created = parley("users", "create", "--email", "ada@example.com", "--password-stdin", stdin=PASSWORD + "\n")
    assert created.code == 0, created.stderr
    notes = tmp_path / "notes"
    (notes / "deeper").mkdir(parents=True)
    (notes / "first.md").write_text("# First note\n\nAbout *pasta*.\n")
    (notes / "deeper" / "second-note.md").write_text("No heading, just text.")
    (notes / "broken.md").write_bytes(b"\xff\xfe not utf-8")
    (notes / "ignored.txt").write_text("not markdown")

    imported = parley(
        "articles", "import", str(notes), "--user", "ada@example.com", "--tag", "Notes", "--status", "published"
    )
    assert imported.code == 1  # one file could not be imported
    assert imported.stdout.strip() == "imported 2 articles for ada@example.com"
    assert [line for line in said(imported) if line.startswith("not imported")] == [
        f"not imported: {notes / 'broken.md'}: UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in "
        "position 0: invalid start byte"
    ]
    with sqlite3.connect(var_dir / "parley.db") as database:
        rows = database.execute(
            "SELECT a.title, a.body, a.status, a.visibility, t.name FROM article a "
            "JOIN article_tag at ON at.article_id = a.id JOIN tag t ON t.id = at.tag_id ORDER BY a.title"
        ).fetchall()
    assert rows == [
        ("First note", "About *pasta*.", "published", "private", "notes"),
        ("second note", "No heading, just text.", "published", "private", "notes"),
    ]

    unknown = parley("articles", "import", str(notes), "--user", "nobody@example.com")
    assert unknown.code == 1
    assert said(unknown) == ["error: no user with email or id 'nobody@example.com'"]
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = parley("articles", "import", str(empty), "--user", "ada@example.com")
    assert nothing.code == 2
    assert said(nothing) == [f"error: no Markdown files (*.md) under {empty}"]
