"""The budget reader's driver-level statement: its positional parameters are checked at start-up."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from src.infrastructure.persistence.usage_repositories import _STANDING, standing_driver_sql


def test_the_standing_query_takes_the_user_then_the_month_on_asyncpg() -> None:
    dialect = create_async_engine("postgresql+asyncpg://parley@localhost/parley").dialect  # never connects
    sql = standing_driver_sql(_STANDING.compile(dialect=dialect))
    assert "$1" in sql
    assert "$2" in sql


def test_parameters_in_another_order_are_a_clear_error_even_under_python_o() -> None:
    with pytest.raises(RuntimeError, match=r"\['p_month', 'p_user'\], not \['p_user', 'p_month'\]"):
        standing_driver_sql(SimpleNamespace(positiontup=["p_month", "p_user"]))
