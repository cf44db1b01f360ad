"""What every JSON input of the HTTP front door goes through: request bodies and WebSocket frames.

One decoder, so that hostile input is refused the same way everywhere and nothing reaches a use
case (or the database) half-checked:

- bytes that are not UTF-8, JSON that does not parse, or JSON nested deeper than ``MAX_DEPTH``:
  ``MalformedJson`` (HTTP 400, a WebSocket ``error`` frame);
- a value of the wrong type (``"7"`` where a number is expected: types are strict, nothing is
  coerced), a missing or unknown field: ``InvalidJson`` naming the field (HTTP 422);
- a NUL character in any text: ``InvalidJson`` naming the field. PostgreSQL cannot store NUL in
  text and SQLite would store it silently; refusing it here keeps both databases the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

#: Deeper JSON is refused before it is decoded: no Parley body or frame nests more than a few levels,
#: and Python's recursion limit must never be what stops a request.
MAX_DEPTH = 64
NUL = "\x00"
#: How a NUL reaches JSON: the ``\u0000`` escape (a raw control character is malformed JSON).
_ESCAPED_NUL = b"\\u0000"
_VALIDATION_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")


class MalformedJson(Exception):
    """The input is not JSON Parley can read at all (HTTP 400)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class InvalidJson(Exception):
    """The input is JSON, but a field is wrong (HTTP 422); ``field`` is its path (``tags[2]``)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def decode(data: bytes | str, type_: type[T]) -> T:
    """``data`` decoded into ``type_`` strictly, or ``MalformedJson`` / ``InvalidJson``."""
    raw = data.encode() if isinstance(data, str) else data
    check_depth(raw)
    try:
        value: T = msgspec.json.decode(raw, type=type_, strict=True)
    except UnicodeDecodeError:
        raise MalformedJson("invalid_utf8", "Not valid UTF-8") from None
    except msgspec.ValidationError as exc:
        field, message = split_validation_error(str(exc))
        raise InvalidJson(field, message) from None
    except msgspec.DecodeError as exc:
        raise MalformedJson("malformed_json", f"Not valid JSON: {exc}") from None
    except RecursionError:  # pragma: no cover - check_depth refuses such input first
        raise MalformedJson("json_too_deep", f"JSON may nest at most {MAX_DEPTH} levels") from None
    if _ESCAPED_NUL in raw:
        path = nul_path(msgspec.json.decode(raw))
        if path is not None:
            raise InvalidJson(path or None, "must not contain NUL (\\u0000) characters")
    return value


def check_depth(raw: bytes) -> None:
    """``MalformedJson`` when brackets outside strings nest deeper than ``MAX_DEPTH``.

    Cheap: only bodies holding more than ``MAX_DEPTH`` brackets at all are scanned.
    """
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_DEPTH:
                raise MalformedJson("json_too_deep", f"JSON may nest at most {MAX_DEPTH} levels")
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1


def nul_path(value: Any) -> str | None:
    """The path of the first text (or object key) holding a NUL, ``""`` for the top level; ``None``
    when there is none. Iterative: decoded input is never walked by recursion."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return path
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and NUL in key:
                    return child_path
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", child) for index, child in enumerate(item))
    return None


def split_validation_error(message: str) -> tuple[str | None, str]:
    """msgspec's ``Expected `int`, got `str` - at `$.expires_in_days``` as (``expires_in_days``, ``Expected ...``)."""
    match = _VALIDATION_PATH.search(message)
    if match is None:
        return None, message
    return match.group("path").lstrip(".") or None, message[: match.start()]


def nul_fields(pairs: Iterator[tuple[str, str]]) -> list[str]:
    """The names of the (name, value) pairs whose name or value holds a NUL, in order, once each."""
    found: list[str] = []
    for name, value in pairs:
        if (NUL in name or NUL in value) and name not in found:
            found.append(name)
    return found
