"""UpdateConversation: rename, change the model, system prompt, temperature, grounding, the context
cap or its running summary, archive.

Only the fields given change; ``UNCHANGED`` (the default) leaves a field as it is, ``None`` clears
the ones that may be empty (title, system prompt, temperature, grounding, and ``context_tokens``:
back to the deployment's ``CHAT_CONTEXT_TOKENS``). ``context_tokens`` must fit the conversation's
model (the new one, when the model changes too); a cap above a model chosen later is held to it.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from src.application.chat.access import owned_conversation
from src.application.chat.ports import ChatTransaction
from src.application.chat.views import ConversationView
from src.application.llm.ports import ModelCatalog
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.chat.model import Grounding
from src.domain.identity.model import Principal


class _Unchanged(enum.Enum):
    UNCHANGED = "unchanged"


UNCHANGED: Final = _Unchanged.UNCHANGED
Unchanged = Literal[_Unchanged.UNCHANGED]


@dataclass(frozen=True, slots=True)
class UpdateConversationCommand:
    conversation_id: uuid.UUID
    title: str | Unchanged | None = UNCHANGED
    model: str | Unchanged = UNCHANGED
    system_prompt: str | Unchanged | None = UNCHANGED
    temperature: float | Unchanged | None = UNCHANGED
    knowledge: bool | Sequence[str] | Unchanged | None = UNCHANGED
    archived: bool | Unchanged = UNCHANGED
    context_tokens: int | Unchanged | None = UNCHANGED
    summarize: bool | Unchanged = UNCHANGED


class UpdateConversation:
    def __init__(self, uow: UnitOfWorkFactory[ChatTransaction], catalog: ModelCatalog, clock: Clock) -> None:
        self._uow = uow
        self._catalog = catalog
        self._clock = clock

    async def __call__(self, principal: Principal, command: UpdateConversationCommand) -> ConversationView:
        now = self._clock.now()
        model = self._catalog.resolve(command.model).id if command.model is not UNCHANGED else None
        grounding = Grounding.of(command.knowledge) if command.knowledge is not UNCHANGED else None
        async with self._uow() as tx:
            conversation = await owned_conversation(tx, principal, command.conversation_id)
            if command.title is not UNCHANGED:
                conversation.rename(command.title, now=now)
            if model is not None:
                conversation.change_model(model, now=now)
            if command.system_prompt is not UNCHANGED:
                conversation.change_system_prompt(command.system_prompt, now=now)
            if command.temperature is not UNCHANGED:
                conversation.change_temperature(command.temperature, now=now)
            if command.knowledge is not UNCHANGED:
                conversation.change_grounding(grounding, now=now)
            if command.context_tokens is not UNCHANGED:
                info = self._catalog.get(conversation.model) or self._catalog.resolve(conversation.model)
                conversation.change_context_tokens(command.context_tokens, context_window=info.context_window, now=now)
            if command.summarize is not UNCHANGED:
                conversation.change_summarize(command.summarize, now=now)
            if command.archived is not UNCHANGED:
                conversation.set_archived(command.archived, now=now)
            await tx.conversations.save(conversation)
        return ConversationView.of(conversation, now)
