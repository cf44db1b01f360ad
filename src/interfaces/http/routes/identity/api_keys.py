"""API keys: programs authenticate with ``Authorization: Bearer pk_...`` as their owner."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, post
from litestar.params import FromPath, JSONBody, SkipValidation
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from src.application.identity.create_api_key import CreateApiKeyCommand
from src.application.identity.revoke_api_key import RevokeApiKeyCommand
from src.domain.identity.model import Permission, Principal
from src.infrastructure.container import Container
from src.interfaces.http.auth import SECURITY, requires
from src.interfaces.http.routes.identity.schemas import (
    ApiKeyList,
    ApiKeyResponse,
    CreateApiKeyRequest,
    CreatedApiKeyResponse,
)


class ApiKeysController(Controller):
    path = "/api-keys"
    tags = ["api-keys"]
    security = SECURITY
    guards = [requires(Permission.API_KEYS_MANAGE)]

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Create an API key",
        description=(
            "The whole key is in `key`, shown this once (only its digest is stored). At most 25 active keys "
            "per user (409 `too_many_api_keys`)."
        ),
    )
    async def create_api_key(
        self,
        data: JSONBody[CreateApiKeyRequest],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> Response[CreatedApiKeyResponse]:
        created = await container.use_cases.identity.create_api_key(
            principal, CreateApiKeyCommand(data.name, data.expires_in_days)
        )
        return Response(
            CreatedApiKeyResponse.of(created), status_code=HTTP_201_CREATED, headers={"Cache-Control": "no-store"}
        )

    @get("/", summary="Your API keys", description="Prefix, name, created, last used and expiry; never the key.")
    async def list_api_keys(
        self, principal: SkipValidation[Principal], container: SkipValidation[Container]
    ) -> ApiKeyList:
        keys = await container.use_cases.identity.list_api_keys(principal)
        return ApiKeyList(items=[ApiKeyResponse.of(k) for k in keys], total=len(keys))

    @delete(
        "/{key_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Revoke an API key",
        description="Takes effect at once. 404 `api_key_not_found` for a key that is not yours.",
    )
    async def revoke_api_key(
        self, key_id: FromPath[uuid.UUID], principal: SkipValidation[Principal], container: SkipValidation[Container]
    ) -> None:
        await container.use_cases.identity.revoke_api_key(principal, RevokeApiKeyCommand(key_id))
