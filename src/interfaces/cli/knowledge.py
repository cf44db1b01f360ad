"""``parley paragraphs``, ``parley dictionary`` and ``parley articles``: the knowledge commands.

They run the same use cases as the API; each builds only the adapters its use case needs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from src.interfaces.cli.runtime import EXIT_FAILURE, EXIT_USAGE, act_as, fail, one_line_errors, run_in_container


def _progress(length: int, label: str) -> Any:
    return click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True)


# --- paragraphs ------------------------------------------------------------------------------


@click.group()
def paragraphs() -> None:
    """Paragraphs: fetch them from the paragraph source, search them for words."""


@paragraphs.command("fetch")
@click.option("--count", type=click.IntRange(1, 10_000), default=1, show_default=True, help="How many to fetch.")
@one_line_errors
def paragraphs_fetch(count: int) -> None:
    """Fetch COUNT paragraphs from the paragraph source (PARAGRAPH_SOURCE_URL, or the offline generator)
    and store them. Stops at the first failure (exit 1); what was fetched before it stays."""
    from src.domain.identity.model import Principal
    from src.domain.knowledge.errors import ParagraphSourceFailed

    async def work(container: Any) -> int:
        fetched = 0
        with _progress(count, "fetching paragraphs") as bar:
            for _ in range(count):
                try:
                    await container.use_cases.knowledge.fetch_paragraph(Principal.system())
                except ParagraphSourceFailed as exc:
                    raise ParagraphSourceFailed(f"{exc.detail} ({fetched} of {count} fetched)") from exc
                fetched += 1
                bar.update(1)
        return fetched

    fetched = run_in_container(work)
    click.echo(f"fetched {fetched} paragraph{'' if fetched == 1 else 's'}")


@paragraphs.command("search")
@click.argument("words", nargs=-1, required=True)
@click.option("--or", "any_word", is_flag=True, help="Paragraphs with any of the words (default: all of them).")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@one_line_errors
def paragraphs_search(words: tuple[str, ...], any_word: bool, limit: int, offset: int) -> None:
    """Paragraphs holding WORDS as whole words, in any case, oldest first."""
    from src.application.knowledge.views import SearchParagraphsQuery
    from src.domain.identity.model import Principal

    query = SearchParagraphsQuery(list(words), "or" if any_word else "and", limit, offset)
    result = run_in_container(
        lambda container: container.use_cases.knowledge.search_paragraphs(Principal.system(), query)
    )
    total = result.total_count
    click.echo(f"{total} paragraph{'' if total == 1 else 's'} match")
    for paragraph in result.paragraphs:
        click.echo(f"\n{paragraph.id}  {paragraph.created_at:%Y-%m-%d %H:%M:%S}\n{paragraph.content}")
    if result.paragraphs and offset + len(result.paragraphs) < total:
        click.echo(f"\nshowing {offset + 1}-{offset + len(result.paragraphs)} of {total} (--offset for more)")


@click.command("dictionary")
@click.option("--exclude-stopwords", is_flag=True, help="Leave out common English function words.")
@one_line_errors
def dictionary(exclude_stopwords: bool) -> None:
    """The ten most frequent words over all paragraphs, with their definitions."""
    from src.application.knowledge.get_dictionary import GetDictionaryQuery
    from src.domain.identity.model import Principal

    view = run_in_container(
        lambda container: container.use_cases.knowledge.get_dictionary(
            Principal.system(), GetDictionaryQuery(exclude_stopwords=exclude_stopwords)
        )
    )
    if not view.words:
        click.echo("no paragraphs yet: `parley paragraphs fetch` stores some")
        return
    width = max(len("WORD"), *(len(e.word) for e in view.words))
    phonetic_width = max(len("PHONETIC"), *(len(e.phonetic or "-") for e in view.words))
    click.echo(f"{'WORD':<{width}}  {'COUNT':>8}  {'PHONETIC':<{phonetic_width}}  DEFINITION")
    for entry in view.words:
        definition = entry.definitions[0] if entry.definitions else "-"
        click.echo(f"{entry.word:<{width}}  {entry.count:>8}  {entry.phonetic or '-':<{phonetic_width}}  {definition}")
    if not view.definitions_available:
        click.echo("definitions unavailable: no dictionary service (DICTIONARY_API_URL), or it failed", err=True)


# --- articles --------------------------------------------------------------------------------


@click.group()
def articles() -> None:
    """Articles: import Markdown files for a user."""


@articles.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--user", "who", required=True, help="The author: an email address or a user id.")
@click.option("--status", type=click.Choice(["draft", "published"]), default="draft", show_default=True)
@click.option("--visibility", type=click.Choice(["private", "public"]), default="private", show_default=True)
@click.option("--tag", "tags", multiple=True, help="A tag for every imported article (repeatable).")
@one_line_errors
def articles_import(directory: Path, who: str, status: str, visibility: str, tags: tuple[str, ...]) -> None:
    """Import every Markdown file (*.md) under DIRECTORY as an article of USER.

    The title is the file's first line when that is a `# ` heading, else the file name. A file that
    cannot be imported is named on stderr and the others go on; the exit code is then 1.
    """
    from src.application.knowledge.views import CreateArticleCommand
    from src.domain.knowledge.model import article_from_markdown
    from src.domain.shared.errors import DomainError

    files = sorted(p for p in directory.rglob("*.md") if p.is_file())
    if not files:
        fail(f"no Markdown files (*.md) under {directory}", EXIT_USAGE)

    async def work(container: Any) -> tuple[int, list[tuple[Path, str]]]:
        # As that user: their permissions, and articles that are theirs.
        principal = await act_as(container, who)
        imported, failed = 0, []
        with _progress(len(files), "importing articles") as bar:
            for path in files:
                try:
                    title, body = article_from_markdown(path.name, path.read_text(encoding="utf-8"))
                    command = CreateArticleCommand(title, body, tags, status, visibility)
                    await container.use_cases.knowledge.create_article(principal, command)
                    imported += 1
                except (DomainError, OSError, UnicodeDecodeError) as exc:
                    failed.append((path, getattr(exc, "detail", None) or f"{type(exc).__name__}: {exc}"))
                bar.update(1)
        return imported, failed

    imported, failed = run_in_container(work)
    click.echo(f"imported {imported} article{'' if imported == 1 else 's'} for {who}")
    for path, why in failed:
        click.echo(f"not imported: {path}: {why}", err=True)
    if failed:
        sys.exit(EXIT_FAILURE)


COMMANDS = [paragraphs, dictionary, articles]
