"""The ``/v1`` surface in Parley's OpenAPI document.

The gateway is a plain ASGI app in front of Litestar's router (gateway.py), so Litestar does not see
it: its three operations are described here and added to the document by
``interfaces/http/openapi.py``. The request schema comes from the msgspec struct the gateway decodes
with (it cannot drift); the answers are described as OpenAI's API reference gives them, and
tests/integration/test_openai_gateway_openapi.py checks real answers against these schemas.
Errors are OpenAI's ``{"error": {...}}``, not problem JSON: the official SDKs parse that shape.
"""

from __future__ import annotations

import copy
from typing import Any

import msgspec

from src.interfaces.http.auth import SECURITY
from src.interfaces.http.openai.schemas import ChatCompletionRequest

TAG = "OpenAI-compatible gateway"
_SCHEMA_PREFIX = "OpenAI"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{_SCHEMA_PREFIX}{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_USAGE: dict[str, Any] = {
    "type": "object",
    "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
    "properties": {
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
        "prompt_tokens_details": {"type": "object", "properties": {"cached_tokens": {"type": "integer"}}},
        "completion_tokens_details": {"type": "object", "properties": {"reasoning_tokens": {"type": "integer"}}},
    },
}

_FINISH_REASON: dict[str, Any] = {"type": "string", "enum": ["stop", "length", "content_filter"]}

_COMPLETION: dict[str, Any] = {
    "type": "object",
    "description": "A chat completion (`stream` false or absent).",
    "required": ["id", "object", "created", "model", "choices", "usage"],
    "properties": {
        "id": {"type": "string", "description": "`chatcmpl-...`"},
        "object": {"type": "string", "enum": ["chat.completion"]},
        "created": {"type": "integer", "description": "Unix seconds"},
        "model": {"type": "string", "description": "The model that answered (after any fallback)."},
        "system_fingerprint": {"type": "null"},
        "choices": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "message", "finish_reason"],
                "properties": {
                    "index": {"type": "integer"},
                    "message": {
                        "type": "object",
                        "required": ["role", "content"],
                        "properties": {
                            "role": {"type": "string", "enum": ["assistant"]},
                            "content": {"type": "string"},
                            "refusal": {"type": "null"},
                        },
                    },
                    "logprobs": {"type": "null"},
                    "finish_reason": _FINISH_REASON,
                },
            },
        },
        "usage": _ref("Usage"),
    },
}

_CHUNK: dict[str, Any] = {
    "type": "object",
    "description": (
        "One `data:` event of a streamed completion. With `stream_options.include_usage` every chunk has"
        " `usage: null` and a last chunk with `choices: []` carries the usage. The stream ends with"
        " `data: [DONE]`; a failure after the first chunk is a `data:` event with an `error` object."
    ),
    "required": ["id", "object", "created", "model", "choices"],
    "properties": {
        "id": {"type": "string"},
        "object": {"type": "string", "enum": ["chat.completion.chunk"]},
        "created": {"type": "integer"},
        "model": {"type": "string"},
        "system_fingerprint": {"type": "null"},
        "choices": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "delta", "finish_reason"],
                "properties": {
                    "index": {"type": "integer"},
                    "delta": {
                        "type": "object",
                        "properties": {
                            "role": {"type": "string", "enum": ["assistant"]},
                            "content": {"type": "string"},
                        },
                    },
                    "logprobs": {"type": "null"},
                    "finish_reason": _nullable(_FINISH_REASON),
                },
            },
        },
        "usage": _nullable(_ref("Usage")),
    },
}

_MODEL: dict[str, Any] = {
    "type": "object",
    "required": ["id", "object", "created", "owned_by"],
    "properties": {
        "id": {"type": "string", "description": "As Parley's catalog names it, e.g. `offline/echo`."},
        "object": {"type": "string", "enum": ["model"]},
        "created": {"type": "integer"},
        "owned_by": {"type": "string", "description": "The provider."},
    },
}

_MODEL_LIST: dict[str, Any] = {
    "type": "object",
    "required": ["object", "data"],
    "properties": {"object": {"type": "string", "enum": ["list"]}, "data": {"type": "array", "items": _ref("Model")}},
}

_ERROR: dict[str, Any] = {
    "type": "object",
    "description": "OpenAI's error shape: the official SDKs raise their matching exception class from it.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string", "description": "`invalid_request_error`, `insufficient_quota`, ..."},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"], "description": "`invalid_api_key`, `model_not_found`, ..."},
            },
        }
    },
}

_ERRORS: dict[int, str] = {
    400: "`invalid_request_error`: malformed JSON, an unsupported value (`n` other than 1, a role, a content part)",
    401: "`invalid_api_key`: no key, or the API key or access token is not valid (`WWW-Authenticate`)",
    403: "`permission_error`: the key's owner may not chat",
    404: "`model_not_found`, or an unknown `/v1` URL",
    405: "The method is not allowed on this URL",
    413: "Request body too large (`MAX_BODY_BYTES`)",
    429: "`rate_limit_exceeded` (per-user AI requests a minute; `Retry-After`) or `insufficient_quota` (budget)",
    500: "An error in Parley itself",
    502: "Every model of the fallback chain failed",
    503: "Unavailable (shutting down, a dependency down)",
    504: "The provider timed out",
}

_MODELS_ERRORS = (401, 404, 405, 500)


def _errors(statuses: tuple[int, ...] | None = None) -> dict[str, Any]:
    return {
        str(status): {
            "description": description,
            "content": {"application/json": {"schema": _ref("Error")}},
        }
        for status, description in _ERRORS.items()
        if statuses is None or status in statuses
    }


def _request_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """The request body's schema from the struct the gateway decodes with, and its components."""
    (request,), components = msgspec.json.schema_components([ChatCompletionRequest], ref_template="{name}")
    renamed = {f"{_SCHEMA_PREFIX}{name}": schema for name, schema in components.items()}
    for schema in renamed.values():
        _prefix_refs(schema)
    _prefix_refs(request)
    request_name = f"{_SCHEMA_PREFIX}{ChatCompletionRequest.__name__}"
    renamed[request_name]["description"] = (
        "OpenAI's chat completions request. `model` is a Parley catalog id (`GET /v1/models`) or a short"
        " alias; unknown fields are ignored, as OpenAI does; `store: true` saves the exchange as a"
        " conversation."
    )
    return request, renamed


def _prefix_refs(node: Any) -> None:
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and not reference.startswith("#/"):
            node["$ref"] = f"#/components/schemas/{_SCHEMA_PREFIX}{reference}"
        for value in node.values():
            _prefix_refs(value)
    elif isinstance(node, list):
        for value in node:
            _prefix_refs(value)


def gateway_openapi() -> tuple[dict[str, Any], dict[str, Any]]:
    """(paths, component schemas) of the ``/v1`` surface, fresh copies each call."""
    request, schemas = _request_schemas()
    schemas.update({
        f"{_SCHEMA_PREFIX}ChatCompletion": _COMPLETION,
        f"{_SCHEMA_PREFIX}ChatCompletionChunk": _CHUNK,
        f"{_SCHEMA_PREFIX}Usage": _USAGE,
        f"{_SCHEMA_PREFIX}Model": _MODEL,
        f"{_SCHEMA_PREFIX}ModelList": _MODEL_LIST,
        f"{_SCHEMA_PREFIX}Error": _ERROR,
    })  # fmt: skip
    security = [dict(requirement) for requirement in SECURITY]
    paths: dict[str, Any] = {
        "/v1/chat/completions": {
            "post": {
                "tags": [TAG],
                "operationId": "V1ChatCompletions",
                "summary": "Create a chat completion (OpenAI-compatible)",
                "description": (
                    "OpenAI's `POST /v1/chat/completions` over Parley's router: fallbacks, breakers, the per-user"
                    " AI rate limit, budgets and usage accounting as in chat. Authenticate with"
                    " `Authorization: Bearer pk_...` (a Parley API key) or an access token. `stream: true`"
                    " answers Server-Sent Events (`data: {chunk}` lines ending with `data: [DONE]`). Every"
                    " answer carries `Server-Timing: parley;dur=<ms>`, the time Parley itself spent."
                    " See docs/GATEWAY.md."
                ),
                "security": security,
                "requestBody": {"required": True, "content": {"application/json": {"schema": request}}},
                "responses": {
                    "200": {
                        "description": "The completion, or its stream of chunks when `stream` is true",
                        "content": {
                            "application/json": {"schema": _ref("ChatCompletion")},
                            "text/event-stream": {"schema": _ref("ChatCompletionChunk")},
                        },
                    },
                    **_errors(),
                },
            }
        },
        "/v1/models": {
            "get": {
                "tags": [TAG],
                "operationId": "V1ListModels",
                "summary": "List the models (OpenAI-compatible)",
                "description": "The catalog's available models in OpenAI's list shape.",
                "security": security,
                "responses": {
                    "200": {"description": "The models", "content": _json(_ref("ModelList"))},
                    **_errors(_MODELS_ERRORS),
                },
            }
        },
        "/v1/models/{model}": {
            "get": {
                "tags": [TAG],
                "operationId": "V1RetrieveModel",
                "summary": "Retrieve a model (OpenAI-compatible)",
                "description": "One model by catalog id or short alias (`gpt-4.1-mini` for `openai/gpt-4.1-mini`).",
                "security": security,
                "parameters": [
                    {
                        "name": "model",
                        "in": "path",
                        "required": True,
                        "description": "A catalog id (`offline/echo`) or short alias; ids contain a `/`.",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": {"description": "The model", "content": _json(_ref("Model"))},
                    **_errors(_MODELS_ERRORS),
                },
            }
        },
    }
    return copy.deepcopy(paths), copy.deepcopy(schemas)
