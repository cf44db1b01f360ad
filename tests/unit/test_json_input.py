"""The one JSON decoder of the HTTP front door (bodies and WebSocket frames)."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest

from src.interfaces.http import json_input
from src.interfaces.http.json_input import MAX_DEPTH, InvalidJson, MalformedJson


class Inner(msgspec.Struct, forbid_unknown_fields=True):
    tags: list[str] = msgspec.field(default_factory=list)


class Body(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=10)]
    days: int | None = None
    inner: Inner | None = None


def test_a_good_body_decodes_strictly() -> None:
    assert json_input.decode(b'{"name": "a", "days": 7}', Body) == Body("a", 7)
    assert json_input.decode('{"name": "\\\\u0000"}', Body) == Body("\\u0000")  # an escaped backslash, no NUL


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"name": "a\\u0000"}', "name"),
        (b'{"name": "a", "inner": {"tags": ["x", "\\u0000"]}}', "inner.tags[1]"),
        (b'{"name": "a", "days": "7"}', "days"),
        (b'{"name": "a", "colour": "red"}', None),
        (b'{"name": "abcdefghijkl"}', "name"),
    ],
)
def test_a_bad_field_is_invalid_naming_it(raw: bytes, field: str | None) -> None:
    with pytest.raises(InvalidJson) as caught:
        json_input.decode(raw, Body)
    assert caught.value.field == field
    assert caught.value.message


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "json_too_deep"),
        (b'{"name": ' + b"[" * 100_000 + b"}", "json_too_deep"),
        (b'{"name": "\xff"}', "invalid_utf8"),
        (b'{"name": ', "malformed_json"),
    ],
)
def test_unreadable_input_is_malformed(raw: bytes, code: str) -> None:
    with pytest.raises(MalformedJson) as caught:
        json_input.decode(raw, Body)
    assert caught.value.code == code


def test_brackets_inside_strings_are_not_nesting() -> None:
    name = "[{" * 5
    raw = b'{"name": "' + name.encode() + b'", "inner": {"tags": ["' + b"[" * 200 + b'"]}}'
    assert json_input.decode(raw, Body).name == name
    exactly_deep = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert json_input.decode(exactly_deep, list) is not None


def test_nul_fields_names_each_pair_once() -> None:
    pairs = [("q", "a\x00"), ("ok", "fine"), ("q", "\x00"), ("x\x00", "v")]
    assert json_input.nul_fields(iter(pairs)) == ["q", "x\x00"]
