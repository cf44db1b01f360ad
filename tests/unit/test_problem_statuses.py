"""The HTTP front door's table of error statuses: every domain error maps, by kind unless listed, and
the listed codes are exactly those whose status differs from their kind's."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import src.domain
from src.domain.shared.errors import DomainError
from src.interfaces.http.problems import STATUS_BY_CODE, STATUS_BY_KIND


def _domain_errors() -> Iterator[type[DomainError]]:
    for module in pkgutil.walk_packages(src.domain.__path__, "src.domain."):
        importlib.import_module(module.name)
    pending = list(DomainError.__subclasses__())
    while pending:
        error = pending.pop()
        pending.extend(error.__subclasses__())
        yield error


def test_every_domain_error_kind_has_a_status() -> None:
    kinds = {error.kind for error in _domain_errors()}
    assert kinds <= set(STATUS_BY_KIND), kinds - set(STATUS_BY_KIND)


def test_a_code_is_listed_only_when_its_status_differs_from_its_kinds() -> None:
    kinds_by_code: dict[str, set[str]] = {}
    for error in _domain_errors():
        kinds_by_code.setdefault(error.code, set()).add(error.kind)
    assert set(STATUS_BY_CODE) <= set(kinds_by_code), set(STATUS_BY_CODE) - set(kinds_by_code)
    redundant = [
        code
        for code, status in STATUS_BY_CODE.items()
        if all(STATUS_BY_KIND[kind] == status for kind in kinds_by_code[code])
    ]
    assert redundant == []
