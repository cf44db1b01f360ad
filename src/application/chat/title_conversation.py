"""TitleConversation: the background job that names a conversation after its first reply.

It asks a cheap available model (catalog capability ``cheap``; the default model when none is
available) for a title of at most six words. The offline models cannot summarise, and a model that
fails or answers nothing usable is no better: then the title is made from the first user message
(its first line, at most six words). The title is stored only if the conversation still has none
(a rename by the user wins), and pushed to the user's open clients as a ``title`` event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.chat.ports import ChargedChatTransaction, UserEvent, UserEvents
from src.application.llm.ports import ChatModel, ModelCatalog
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.chat.titles import title_from_suggestion, title_from_text
from src.domain.llm.errors import ProviderError
from src.domain.llm.model import ChatRequest, Completion, MessageRole, ModelInfo, PromptMessage
from src.domain.shared.errors import DomainError
from src.domain.usage.model import UsageKind, UsageRecord

OFFLINE_PROVIDER = "offline"
CHEAP_CAPABILITY = "cheap"
TITLE_TIMEOUT_SECONDS = 30.0
#: The start of each message is enough to name the conversation, and keeps the call cheap.
EXCERPT_CHARS = 2000
TITLE_INSTRUCTIONS = (
    "You name chat conversations. Reply with a title of at most six words for the conversation "
    "below: no quotes, no trailing punctuation, nothing else."
)


def cheap_model(catalog: ModelCatalog) -> ModelInfo:
    """The model for the background chores (titles, summaries): a cheap available one, else the default."""
    for info in catalog.models():
        if CHEAP_CAPABILITY in info.capabilities and catalog.is_available(info.id):
            return info
    return catalog.resolve(None)


@dataclass(frozen=True, slots=True)
class TitleConversationCommand:
    conversation_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class TitleResult:
    title: str | None
    #: ``model`` (a model suggested it), ``message`` (made from the first message), or ``skipped``.
    source: str


class TitleConversation:
    def __init__(
        self,
        uow: UnitOfWorkFactory[ChargedChatTransaction],
        model: ChatModel,
        catalog: ModelCatalog,
        events: UserEvents,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._model = model
        self._catalog = catalog
        self._events = events
        self._clock = clock

    def title_model(self) -> ModelInfo:
        return cheap_model(self._catalog)

    async def __call__(self, command: TitleConversationCommand) -> TitleResult:
        async with self._uow(read_only=True) as tx:
            conversation = await tx.conversations.get(command.conversation_id)
            if conversation is None or conversation.title is not None:
                return TitleResult(None, "skipped")
            opening = await tx.messages.head(conversation.id, limit=2)
        user_text = next((m.content for m in opening if m.role is MessageRole.USER), "")
        reply_text = next((m.content for m in opening if m.role is MessageRole.ASSISTANT), "")
        if not user_text:
            return TitleResult(None, "skipped")
        title, completion, info = None, None, None
        try:
            info = self.title_model()
            if info.provider != OFFLINE_PROVIDER:
                completion = await self._ask(info, user_text, reply_text)
                title = title_from_suggestion(completion.text)
        except (ProviderError, DomainError):
            completion = None  # no title from a model this time: the first message names it
        source = "model" if title else "message"
        title = title or title_from_text(user_text)
        now = self._clock.now()
        async with self._uow() as tx:
            stored = await tx.conversations.set_title_if_untitled(conversation.id, title, now=now)
            if completion is not None and info is not None:
                await tx.usage.record(
                    UsageRecord(
                        id=new_id(now),
                        user_id=conversation.user_id,
                        kind=UsageKind.TITLE,
                        model=completion.model_id,
                        provider=completion.provider,
                        usage=completion.usage,
                        cost_micros=self._cost(completion, info),
                        created_at=now,
                        conversation_id=conversation.id,
                    )
                )
        if not stored:
            return TitleResult(None, "skipped")
        await self._events.publish(
            UserEvent(
                type="title",
                user_id=conversation.user_id,
                data={"conversation_id": str(conversation.id), "title": title},
            )
        )
        return TitleResult(title, source)

    async def _ask(self, info: ModelInfo, user_text: str, reply_text: str) -> Completion:
        transcript = f"User: {user_text[:EXCERPT_CHARS]}"
        if reply_text:
            transcript += f"\n\nAssistant: {reply_text[:EXCERPT_CHARS]}"
        request = ChatRequest(
            messages=(
                PromptMessage(MessageRole.SYSTEM, TITLE_INSTRUCTIONS),
                PromptMessage(MessageRole.USER, transcript),
            ),
            model=info.id,
            temperature=0.2,
            max_output_tokens=24,
            deadline=self._clock.monotonic() + TITLE_TIMEOUT_SECONDS,
        )
        return await self._model.complete(request)

    def _cost(self, completion: Completion, asked: ModelInfo) -> int:
        info = self._catalog.get(completion.model_id) or asked
        return info.pricing.cost_micros(completion.usage)
