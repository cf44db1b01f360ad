"""The chat routes under ``/api/v1``: conversations, messages and their reply streams (SSE)."""

from __future__ import annotations

from src.interfaces.http.routes.chat.conversations import ConversationsController
from src.interfaces.http.routes.chat.messages import MessagesController

CHAT_CONTROLLERS = [ConversationsController, MessagesController]
