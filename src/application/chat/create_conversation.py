"""CreateConversation: an empty conversation with its settings (the default model when none is named)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from src.application.chat.access import require_chat
from src.application.chat.ports import ChatTransaction
from src.application.chat.views import ConversationView
from src.application.llm.ports import ModelCatalog
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.chat.model import Conversation, Grounding
from src.domain.identity.model import Principal


@dataclass(frozen=True, slots=True)
class CreateConversationCommand:
    title: str | None = None
    model: str | None = None
    system_prompt: str | None = None
    temperature: float | None = None
    #: ``true`` (all the user's knowledge), a list of tags, or ``None`` (no grounding).
    knowledge: bool | Sequence[str] | None = None


class CreateConversation:
    def __init__(self, uow: UnitOfWorkFactory[ChatTransaction], catalog: ModelCatalog, clock: Clock) -> None:
        self._uow = uow
        self._catalog = catalog
        self._clock = clock

    async def __call__(self, principal: Principal, command: CreateConversationCommand) -> ConversationView:
        require_chat(principal)
        model = self._catalog.resolve(command.model)
        now = self._clock.now()
        conversation = Conversation.start(
            id=new_id(now),
            user_id=principal.user_id,
            model=model.id,
            now=now,
            title=command.title,
            system_prompt=command.system_prompt,
            temperature=command.temperature,
            grounding=Grounding.of(command.knowledge),
        )
        async with self._uow() as tx:
            await tx.conversations.add(conversation)
        return ConversationView.of(conversation, now)
