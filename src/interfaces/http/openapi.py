"""The OpenAPI document says what every operation answers, worked out once from the routes themselves.

Litestar documents each handler's success response; the errors come from layers it does not see
(guards, the JSON decoder, rate limits, the exception table). ``complete_openapi_document`` runs over
the generated document once, when it is first served, and for every operation adds:

- its error answers as ``application/problem+json`` with the ``Problem`` schema: 401 and 403 when it
  needs a signed-in caller, 404 when its path names a resource, 409 when it changes something, 400,
  413 and 415 when it reads a body, 406 when it negotiates its media type, 422 when it takes any
  input, 429 on every ``/api`` route; a status a route already describes keeps its description;
- ``additionalProperties: false`` on every request body (and nested object) that refuses unknown
  fields (msgspec ``forbid_unknown_fields``);
- the other media types a route answers in, from its ``opt["openapi_media_types"]``
  (``{status: {media type: description}}``), e.g. the Markdown export.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any

import msgspec
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

from src.interfaces.http.auth import PUBLIC_OPT
from src.interfaces.http.openai.openapi import TAG as GATEWAY_TAG
from src.interfaces.http.openai.openapi import gateway_openapi
from src.interfaces.http.problems import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA_NAME = "Problem"
#: Route option: more media types for a status, ``{status: {media type: description}}``.
MEDIA_TYPES_OPT = "openapi_media_types"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details. Some codes add fields (`retry_after`, `available`, ...).",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the problem: `.../problems/<code>`."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What went wrong, for a person."},
        "code": {"type": "string", "description": "Stable, for programs: `conversation_not_found`, ..."},
        "request_id": {"type": ["string", "null"], "description": "Quote it when asking for help."},
        "instance": {"type": "string", "description": "The request's path."},
        "errors": {
            "type": "array",
            "description": "Validation failures, one per field.",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": ["string", "null"], "description": "As the client sent it."},
                    "source": {"type": ["string", "null"], "description": "`body`, `query`, `path` or `header`."},
                    "message": {"type": ["string", "null"]},
                },
            },
        },
    },
    "additionalProperties": True,
}

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed JSON: not UTF-8, not JSON, or nested too deeply",
    401: "Not signed in, or the token or API key is not valid (`WWW-Authenticate` says which)",
    403: "Signed in, but not allowed to do this",
    404: "Not found (someone else's resource is 404 too)",
    406: "The `Accept` header allows none of the media types this route answers",
    409: "Conflicts with the current state",
    413: "Request body too large",
    415: "The body is not `application/json`",
    422: "A parameter or field is not valid; `errors` names each as the client sent it",
    429: "A rate limit or budget is spent; `Retry-After` says when to try again",
    503: "The database (or another service this needs) is out of reach; `Retry-After` says when to try again",
}


class CompletedOpenAPIPlugin(OpenAPIPlugin):
    """Litestar's OpenAPI plugin, serving the completed document (built on first request, as before)."""

    __slots__ = ()

    def provide_openapi_schema(self) -> dict[str, Any]:
        document = super().provide_openapi_schema()
        if PROBLEM_SCHEMA_NAME not in document.get("components", {}).get("schemas", {}):
            complete_openapi_document(document, self.app)
        return document


def install(app: Litestar) -> None:
    """Make the app's OpenAPI plugin complete its document. Litestar builds the plugin itself, so its
    class is switched to the subclass (same slots, one method more)."""
    app.plugins.get(OpenAPIPlugin).__class__ = CompletedOpenAPIPlugin


def complete_openapi_document(document: dict[str, Any], app: Litestar) -> None:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas[PROBLEM_SCHEMA_NAME] = PROBLEM_SCHEMA
    strict_bodies: set[str] = set()
    for route, handler in _handlers(app):
        for method in handler.http_methods:
            operation = document.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            body = handler.parsed_data_field
            if body is not None and body.is_optional and "requestBody" in operation:
                operation["requestBody"]["required"] = False  # `data: X | None = None`: no body at all is fine
            _document_errors(operation, route, handler, method)
            _add_media_types(operation, handler)
            strict_bodies.update(_strict_struct_names(handler))
    for operation in _operations(document):
        _refuse_nul_in_inputs(operation, schemas)
        _sort_response_headers(operation)
    for name in strict_bodies:
        schema = schemas.get(name)
        if isinstance(schema, dict) and schema.get("type") == "object":
            schema["additionalProperties"] = False
    # The OpenAI-compatible /v1 surface is an ASGI app beside the router: described by itself, in
    # OpenAI's shapes (its errors are OpenAI's, its unknown request fields ignored as OpenAI does).
    gateway_paths, gateway_schemas = gateway_openapi()
    document.setdefault("paths", {}).update(gateway_paths)
    schemas.update(gateway_schemas)
    tags = document.setdefault("tags", [])
    if not any(tag.get("name") == GATEWAY_TAG for tag in tags):
        tags.append({"name": GATEWAY_TAG, "description": "OpenAI's chat completions and models API (docs/GATEWAY.md)."})


#: Every text input refuses NUL characters (json_input.py, input_checks.py): the document says so.
NO_NUL_PATTERN = "^[^\\x00]*$"


def _operations(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict) and "responses" in operation:
                yield operation


def _sort_response_headers(operation: dict[str, Any]) -> None:
    """Litestar collects a route's response headers in a set: their order followed the hash seed, so
    the document (and the web client generated from it) changed from one process to the next."""
    for response in operation.get("responses", {}).values():
        headers = response.get("headers") if isinstance(response, dict) else None
        if isinstance(headers, dict):
            response["headers"] = dict(sorted(headers.items()))


def _refuse_nul_in_inputs(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """``pattern`` on every free-text string of the operation's parameters and request body."""
    pending: list[Any] = [parameter.get("schema") for parameter in operation.get("parameters", [])]
    for media in operation.get("requestBody", {}).get("content", {}).values():
        pending.append(media.get("schema"))
    seen: set[str] = set()
    while pending:
        schema = pending.pop()
        if not isinstance(schema, dict):
            continue
        reference = schema.get("$ref")
        if isinstance(reference, str):
            name = reference.rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                pending.append(schemas.get(name))
            continue
        kinds = schema.get("type")
        is_text = kinds == "string" or (isinstance(kinds, list) and "string" in kinds)
        if is_text and not {"format", "enum", "pattern", "const"} & schema.keys():
            schema["pattern"] = NO_NUL_PATTERN
        pending.extend(schema.get("properties", {}).values())
        pending.extend(schema.get(key) for key in ("items", "additionalProperties"))
        for key in ("anyOf", "oneOf", "allOf"):
            pending.extend(schema.get(key, []))


def _handlers(app: Litestar) -> Iterator[tuple[HTTPRoute, HTTPRouteHandler]]:
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                if handler.include_in_schema:
                    yield route, handler


def error_statuses(operation: dict[str, Any], route: HTTPRoute, handler: HTTPRouteHandler, method: str) -> list[int]:
    """The errors this operation can answer, from what it is: its security, path, method, inputs, media."""
    statuses = set()
    if operation.get("security") and not handler.opt.get(PUBLIC_OPT):
        statuses |= {401, 403}
    if route.path_parameters:
        statuses.add(404)
    if method in CHANGING_METHODS:
        statuses.add(409)
    if method in BODY_METHODS and "requestBody" in operation:
        statuses |= {400, 413, 415}
    if operation.get("parameters") or "requestBody" in operation:
        statuses.add(422)
    content_types = {
        media for response in operation.get("responses", {}).values() for media in response.get("content", {})
    }
    if len(content_types) > 1 or any(media.startswith("text/event-stream") for media in content_types):
        statuses.add(406)
    if route.path_format.startswith("/api/"):
        statuses |= {429, 503}
    return sorted(statuses)


def _document_errors(operation: dict[str, Any], route: HTTPRoute, handler: HTTPRouteHandler, method: str) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    reference = {"schema": {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA_NAME}"}}
    for status in error_statuses(operation, route, handler, method):
        response = responses.setdefault(str(status), {"description": ERROR_DESCRIPTIONS[status]})
        content = response.get("content") or {}
        # Litestar's own 400 describes its exception's JSON, which Parley never sends.
        if _is_litestar_error(content):
            del content["application/json"]
        content[PROBLEM_MEDIA_TYPE] = reference
        response["content"] = content
        if response.get("description", "").startswith("Bad request syntax"):
            response["description"] = ERROR_DESCRIPTIONS[status]
    for listed, response in responses.items():
        # Every other error already listed (Litestar's own 400, a route's 429 without a body) is problem JSON
        # too; a body a route documents itself (the readiness report's 503, OAuth errors) stays.
        if not listed.isdigit() or int(listed) < 400:
            continue
        content = response.get("content") or {}
        if _is_litestar_error(content):
            del content["application/json"]
            response["description"] = ERROR_DESCRIPTIONS.get(int(listed), response.get("description", ""))
        if not content:
            content[PROBLEM_MEDIA_TYPE] = reference
        response["content"] = content


def _is_litestar_error(content: dict[str, Any]) -> bool:
    schema = content.get("application/json", {}).get("schema", {})
    return isinstance(schema, dict) and schema.get("description") == "Validation Exception"


def _add_media_types(operation: dict[str, Any], handler: HTTPRouteHandler) -> None:
    for status, media_types in handler.opt.get(MEDIA_TYPES_OPT, {}).items():
        response = operation.setdefault("responses", {}).setdefault(str(status), {"description": ""})
        content = response.setdefault("content", {})
        for media_type, description in media_types.items():
            content[media_type] = {"schema": {"type": "string", "description": description}}


def _strict_struct_names(handler: HTTPRouteHandler) -> Iterator[str]:
    """The names of the request body's structs (nested ones too) that refuse unknown fields."""
    field = handler.parsed_data_field
    if field is None:
        return
    seen: set[type] = set()
    pending: list[Any] = [field.annotation]
    while pending:
        annotation = pending.pop()
        if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
            if annotation in seen:
                continue
            seen.add(annotation)
            if annotation.__struct_config__.forbid_unknown_fields:
                yield annotation.__name__
            pending.extend(typing.get_type_hints(annotation, include_extras=False).values())
        else:
            pending.extend(typing.get_args(annotation))
