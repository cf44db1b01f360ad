"""Articles: one's own to write, change and delete; everyone's published public ones to read."""

from __future__ import annotations

import uuid

import pytest

from src.application.knowledge.delete_article import DeleteArticleCommand
from src.application.knowledge.get_article import GetArticleQuery
from src.application.knowledge.views import CreateArticleCommand, ListArticlesQuery, UpdateArticleCommand
from src.domain.identity.errors import Forbidden
from src.domain.identity.model import Permission, Principal
from src.domain.knowledge.errors import ArticleNotFound, InvalidArticle, InvalidSearchWord
from src.domain.knowledge.model import article_from_markdown
from tests.unit.knowledge.conftest import World, principal


async def test_an_article_is_written_with_clean_title_and_normalised_tags(world: World, ada: Principal) -> None:
    view = await world.write(ada, "  Hello   world ", "Body\n", tags=["Python", " python ", "Web  Dev"])
    assert (view.title, view.body, view.tags) == ("Hello world", "Body", ("python", "web dev"))
    assert (view.status.value, view.visibility.value, view.author_id) == ("draft", "private", ada.user_id)
    assert (await world.get_article(ada, GetArticleQuery(view.id))).title == "Hello world"


@pytest.mark.parametrize(
    "command",
    [
        CreateArticleCommand(title=""),
        CreateArticleCommand(title="x" * 201),
        CreateArticleCommand(title="t", tags=["no/slash"]),
        CreateArticleCommand(title="t", tags=[f"t{i}" for i in range(21)]),
        CreateArticleCommand(title="t", status="archived"),
        CreateArticleCommand(title="t", visibility="friends"),
    ],
)
async def test_invalid_articles_are_refused(world: World, ada: Principal, command: CreateArticleCommand) -> None:
    with pytest.raises(InvalidArticle):
        await world.create_article(ada, command)
    assert world.db.knowledge.articles == {}


async def test_someone_elses_private_or_draft_article_does_not_exist_for_you(
    world: World, ada: Principal, bob: Principal
) -> None:
    private = await world.write(ada, "private", status="published", visibility="private")
    draft = await world.write(ada, "draft", status="draft", visibility="public")
    public = await world.write(ada, "public", status="published", visibility="public")
    for hidden in (private, draft):
        with pytest.raises(ArticleNotFound):
            await world.get_article(bob, GetArticleQuery(hidden.id))
    assert (await world.get_article(bob, GetArticleQuery(public.id))).title == "public"
    listed = await world.list_articles(bob, ListArticlesQuery())
    assert [a.title for a in listed.items] == ["public"]
    assert listed.total == 1


async def test_only_the_author_changes_or_deletes_even_a_public_article(
    world: World, ada: Principal, bob: Principal
) -> None:
    public = await world.write(ada, "public", status="published", visibility="public")
    with pytest.raises(ArticleNotFound):
        await world.update_article(bob, UpdateArticleCommand(public.id, title="taken"))
    with pytest.raises(ArticleNotFound):
        await world.delete_article(bob, DeleteArticleCommand(public.id))
    assert (await world.get_article(ada, GetArticleQuery(public.id))).title == "public"


async def test_the_author_changes_what_is_given_and_deletes(world: World, ada: Principal) -> None:
    view = await world.write(ada, "first", "body", tags=["a"])
    world.clock.advance(10)
    changed = await world.update_article(ada, UpdateArticleCommand(view.id, tags=["B"], status="published"))
    assert (changed.title, changed.body, changed.tags, changed.status.value) == ("first", "body", ("b",), "published")
    assert changed.updated_at > view.updated_at
    await world.delete_article(ada, DeleteArticleCommand(view.id))
    with pytest.raises(ArticleNotFound):
        await world.get_article(ada, GetArticleQuery(view.id))


async def test_listing_filters_by_author_status_tag_and_words_newest_first(
    world: World, ada: Principal, bob: Principal
) -> None:
    await world.write(ada, "Cooking pasta", "Boil the water.", tags=["food"], status="published", visibility="public")
    await world.write(ada, "Draft on pasta", "Not yet.", tags=["food"])
    await world.write(bob, "Bob's pasta", "Mine.", tags=["food"], status="published", visibility="public")
    await world.write(bob, "Bob's secret", "Hidden from Ada.", tags=["food"])

    def titles(page: object) -> list[str]:
        return [a.title for a in page.items]  # type: ignore[attr-defined]

    assert titles(await world.list_articles(ada, ListArticlesQuery())) == [
        "Bob's pasta",
        "Draft on pasta",
        "Cooking pasta",
    ]
    assert titles(await world.list_articles(ada, ListArticlesQuery(author_id=bob.user_id))) == ["Bob's pasta"]
    assert titles(await world.list_articles(ada, ListArticlesQuery(status="draft"))) == ["Draft on pasta"]
    assert titles(await world.list_articles(ada, ListArticlesQuery(tag="FOOD", q="pasta water"))) == ["Cooking pasta"]
    page = await world.list_articles(ada, ListArticlesQuery(limit=1, offset=1))
    assert (titles(page), page.total) == (["Draft on pasta"], 3)
    with pytest.raises(InvalidSearchWord):
        await world.list_articles(ada, ListArticlesQuery(q="pasta*"))


async def test_writing_needs_the_knowledge_write_permission(world: World, ada: Principal) -> None:
    reader = principal("reader", permissions=frozenset({Permission.KNOWLEDGE_READ}))
    with pytest.raises(Forbidden):
        await world.create_article(reader, CreateArticleCommand(title="t"))
    view = await world.write(ada, "t", status="published", visibility="public")
    assert (await world.get_article(reader, GetArticleQuery(view.id))).title == "t"
    with pytest.raises(Forbidden):
        await world.delete_article(reader, DeleteArticleCommand(view.id))


async def test_an_unknown_article_is_not_found(world: World, ada: Principal) -> None:
    with pytest.raises(ArticleNotFound):
        await world.get_article(ada, GetArticleQuery(uuid.uuid4()))


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("note.md", "# My note\n\nSome *text*.\n", ("My note", "Some *text*.")),
        ("note.md", "\n\n# Heading ##\nbody", ("Heading", "body")),
        ("my-first_note.md", "No heading here.", ("my first note", "No heading here.")),
        ("x.md", "## Second level\ntext", ("x", "## Second level\ntext")),
    ],
)
def test_markdown_files_give_a_title_and_a_body(name: str, text: str, expected: tuple[str, str]) -> None:
    assert article_from_markdown(name, text) == expected
