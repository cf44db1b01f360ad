"""Only those holding ``knowledge:publish`` put an article in front of everyone (published and public);
a viewer keeps private notes and drafts, and may take a public article of theirs down but not change it."""

from __future__ import annotations

import pytest

from src.application.knowledge.delete_article import DeleteArticleCommand
from src.application.knowledge.get_article import GetArticleQuery
from src.application.knowledge.views import ListArticlesQuery, UpdateArticleCommand
from src.domain.identity.errors import Forbidden
from src.domain.identity.model import Role, permissions_of
from src.domain.knowledge.model import ArticleStatus, Visibility
from tests.unit.knowledge.conftest import World, principal

VIEWER = permissions_of(Role.VIEWER)


@pytest.fixture
def world() -> World:
    return World()


async def test_a_viewer_writes_private_notes_and_drafts_but_cannot_publish(world: World) -> None:
    viewer = principal("vic", permissions=VIEWER)
    note = await world.write(viewer, "Notes", "mine", status="published", visibility="private")
    draft = await world.write(viewer, "Draft", "later", visibility="public")  # a public draft is not public yet
    assert (note.status, note.visibility) == (ArticleStatus.PUBLISHED, Visibility.PRIVATE)

    with pytest.raises(Forbidden, match="knowledge:publish"):
        await world.write(viewer, "For all", "hello", status="published", visibility="public")
    with pytest.raises(Forbidden, match="knowledge:publish"):
        await world.update_article(viewer, UpdateArticleCommand(draft.id, status="published"))
    with pytest.raises(Forbidden, match="knowledge:publish"):
        await world.update_article(viewer, UpdateArticleCommand(note.id, visibility="public"))
    # Nothing was made public by the refused calls.
    reader = principal("rita")
    assert (await world.list_articles(reader, ListArticlesQuery())).total == 0


async def test_a_creator_publishes(world: World) -> None:
    creator = principal("ada")
    article = await world.write(creator, "For all", "hello", status="published", visibility="public")
    assert (await world.get_article(principal("rita"), GetArticleQuery(article.id))).title == "For all"


async def test_a_demoted_author_may_take_a_public_article_down_but_not_change_it(world: World) -> None:
    article = await world.write(principal("ada"), "For all", "hello", status="published", visibility="public")
    demoted = principal("ada", permissions=VIEWER)

    with pytest.raises(Forbidden, match="knowledge:publish"):
        await world.update_article(demoted, UpdateArticleCommand(article.id, body="changed for everyone"))
    unpublished = await world.update_article(demoted, UpdateArticleCommand(article.id, visibility="private"))
    assert unpublished.visibility is Visibility.PRIVATE
    await world.delete_article(demoted, DeleteArticleCommand(article.id))
