"""The ``messages`` scope of the unified search, on the fakes."""

from __future__ import annotations

from src.application.chat.search_scope import MessageSearchScope
from src.domain.knowledge.words import SearchQuery
from tests.unit.chat.conftest import ChatWorld, principal


async def test_the_scope_finds_and_loads_only_the_callers_own_messages(world: ChatWorld) -> None:
    mine = await world.conversation(title="Baking")
    await world.exchange("sourdough starter tips", mine.id)
    stranger = principal()
    theirs = await world.conversation(stranger)
    await world.exchange("sourdough for strangers", theirs.id, who=stranger)
    scope = MessageSearchScope()
    async with world.uow(read_only=True) as tx:
        ranking = await scope.rank(tx, world.me, SearchQuery.from_text("sourdough"), 10)
        assert ranking.total == 1  # the stranger's message does not count
        documents = await scope.load(tx, world.me, [h.id for h in ranking.hits])
        assert {d.text for d in documents} == {"sourdough starter tips"}
        assert {d.title for d in documents} == {"Baking"}
        assert await scope.load(tx, stranger, [h.id for h in ranking.hits]) == []
        either = await scope.rank(tx, world.me, SearchQuery.from_text("starter nothing", "or"), 10)
        assert either.total == 1
