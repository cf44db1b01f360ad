"""What a use case decided for a reply before it starts (``ReplyLauncher``): the plan, and the lock it holds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.ai.pii_stream import PiiReplyFilter
from src.application.chat.early_call import StartedCall
from src.domain.chat.grounding import GroundedPrompt
from src.domain.chat.model import Conversation, Message
from src.domain.llm.model import ChatRequest, ModelInfo


@dataclass(frozen=True, slots=True)
class ReplyPlan:
    """What the use case decided inside its transaction, for ``ReplyLauncher.launch``."""

    conversation: Conversation
    user_message: Message
    reply: Message
    model: ModelInfo
    #: What the model is sent (``ReplyLauncher.prompt``); ``reply.citations`` lists its passages.
    prompt: GroundedPrompt
    token_start: int
    request_title: bool
    created_conversation: bool
    #: The user's monthly budget as ``prepare`` read it (``None``: not read).
    budget_micros: int | None = None
    #: The model call ``plan`` started before the rows were stored (``start_call``), with the request it
    #: sent and the filter of its text; ``launch`` hands it to the reply's task, ``abandon`` stops it.
    call: StartedCall | None = None
    request: ChatRequest | None = None
    text_filter: PiiReplyFilter | None = None


@dataclass(frozen=True, slots=True)
class ClaimedReply:
    """The conversation's reply lock, taken for a new reply (``ReplyLauncher.claim``)."""

    reply_id: uuid.UUID
    #: The first of the message numbers reserved (the user's message's, then the reply's, for a send).
    first_seq: int
    #: The conversation's token total after the claim.
    token_total: int
