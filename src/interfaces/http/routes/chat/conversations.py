"""Conversations: your own, listed by latest activity; someone else's is 404, never 403."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, delete, get, patch, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, Parameter, SkipValidation
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from src.application.chat.create_conversation import CreateConversationCommand
from src.application.chat.delete_conversation import DeleteConversationCommand
from src.application.chat.export_conversation import ExportConversationQuery
from src.application.chat.get_conversation import GetConversationQuery
from src.application.chat.list_conversations import ListConversationsQuery
from src.application.chat.update_conversation import UNCHANGED, UpdateConversationCommand
from src.domain.identity.model import Principal
from src.infrastructure.container import Container
from src.interfaces.http.auth import SECURITY
from src.interfaces.http.openapi import MEDIA_TYPES_OPT
from src.interfaces.http.paging import limit_param, offset_param
from src.interfaces.http.routes.chat.schemas import (
    ConversationExportResponse,
    ConversationPageResponse,
    ConversationResponse,
    CreateConversationRequest,
    UpdateConversationRequest,
)

NOT_YOURS = "Someone else's conversation is 404 `conversation_not_found`, never 403."


def _given(value: Any) -> Any:
    return UNCHANGED if value is msgspec.UNSET else value


class ConversationsController(Controller):
    path = "/conversations"
    tags = ["conversations"]
    security = SECURITY

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Start a conversation",
        description=(
            "All fields are optional: the default model, no title (one is given after the first reply), no "
            "system prompt, not grounded. `knowledge` (or `grounding: {knowledge}`): `true` or a list of tags grounds "
            "every reply in your knowledge, with citations. An unknown or unavailable model is 422 "
            "`model_unavailable` with the `available` ones."
        ),
    )
    async def create_conversation(
        self,
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        data: JSONBody[CreateConversationRequest | None] = None,
    ) -> ConversationResponse:
        data = data or CreateConversationRequest()  # no body at all: every field has its default
        command = CreateConversationCommand(
            title=data.title,
            model=data.model,
            system_prompt=data.system_prompt,
            temperature=data.temperature,
            knowledge=data.chosen_knowledge(),
        )
        return ConversationResponse.of(await container.use_cases.chat.create_conversation(principal, command))

    @get(
        "/",
        summary="Your conversations",
        description=(
            "Latest activity first. `q` matches part of the title (case-insensitive); `archived=true` lists the "
            "archived ones instead of the others."
        ),
    )
    async def list_conversations(
        self,
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        q: Annotated[str | None, Parameter(max_length=200, description="Part of a title")] = None,
        archived: Annotated[bool, Parameter(description="List archived conversations")] = False,
        limit: Annotated[int, limit_param(100)] = 20,
        offset: Annotated[int, offset_param("Conversations to skip")] = 0,
    ) -> ConversationPageResponse:
        command = ListConversationsQuery(query=q, archived=archived, limit=limit, offset=offset)
        return ConversationPageResponse.of(await container.use_cases.chat.list_conversations(principal, command))

    @get("/{conversation_id:uuid}", summary="Read a conversation", description=NOT_YOURS)
    async def get_conversation(
        self,
        conversation_id: FromPath[uuid.UUID],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> ConversationResponse:
        return ConversationResponse.of(
            await container.use_cases.chat.get_conversation(principal, GetConversationQuery(conversation_id))
        )

    @patch(
        "/{conversation_id:uuid}",
        summary="Rename, change the model, system prompt, grounding or context cap, archive",
        description="Only the fields sent change; `null` clears a title, system prompt, temperature or grounding "
        "(`knowledge: false` too), and puts `context_tokens` back to the deployment's cap. `context_tokens` above "
        "the model's context window is refused (422 `invalid_conversation`); `summarize: false` stops the running "
        "summary. " + NOT_YOURS,
    )
    async def update_conversation(
        self,
        conversation_id: FromPath[uuid.UUID],
        data: JSONBody[UpdateConversationRequest],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> ConversationResponse:
        command = UpdateConversationCommand(
            conversation_id,
            title=_given(data.title),
            model=_given(data.model),
            system_prompt=_given(data.system_prompt),
            temperature=_given(data.temperature),
            knowledge=_given(data.chosen_knowledge()),
            archived=_given(data.archived),
            context_tokens=_given(data.context_tokens),
            summarize=_given(data.summarize),
        )
        return ConversationResponse.of(await container.use_cases.chat.update_conversation(principal, command))

    @delete(
        "/{conversation_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete a conversation and its messages",
        description="A reply being generated is stopped. Usage already spent stays on record. " + NOT_YOURS,
    )
    async def delete_conversation(
        self,
        conversation_id: FromPath[uuid.UUID],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> None:
        await container.use_cases.chat.delete_conversation(principal, DeleteConversationCommand(conversation_id))

    @get(
        "/{conversation_id:uuid}/export",
        summary="Export a conversation",
        description="`format=json` (the conversation and every message) or `format=markdown` (a readable "
        "transcript), as a download. " + NOT_YOURS,
        response_description="JSON or Markdown",
        responses={
            200: ResponseSpec(
                ConversationExportResponse, description="`format=json`: the conversation", generate_examples=False
            )
        },
        opt={MEDIA_TYPES_OPT: {200: {"text/markdown": "`format=markdown`: a readable transcript"}}},
    )
    async def export_conversation(
        self,
        conversation_id: FromPath[uuid.UUID],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        format: Annotated[
            str,
            Parameter(max_length=20, description="`json` or `markdown`", schema_extra={"enum": ["json", "markdown"]}),
        ] = "json",
    ) -> Response[Any]:
        exported = await container.use_cases.chat.export_conversation(
            principal, ExportConversationQuery(conversation_id, format)
        )
        headers = {"Content-Disposition": f'attachment; filename="{exported.filename}"'}
        if exported.format == "json":
            return Response(ConversationExportResponse.of(exported.export), headers=headers)
        return Response(exported.content, media_type="text/markdown", headers=headers)  # Litestar adds the charset
