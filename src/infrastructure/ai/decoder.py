"""``AnswerDecoder`` with msgspec: a model's JSON answer validated against the expected type."""

from __future__ import annotations

import re
from typing import Any, TypeVar, cast

import msgspec

T = TypeVar("T")
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class MsgspecAnswerDecoder:
    def decode(self, text: str, type_: type[T]) -> T:
        fenced = _FENCE.match(text)
        body = fenced.group(1) if fenced else text.strip()
        if not body.startswith("{"):
            start, end = body.find("{"), body.rfind("}")
            if start == -1 or end <= start:
                raise ValueError("no JSON object in the answer")
            body = body[start : end + 1]
        try:
            return cast(T, msgspec.json.decode(body, type=cast(Any, type_), strict=False))
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ValueError(str(exc)) from exc
