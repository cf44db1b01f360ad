from __future__ import annotations

from src.infrastructure.persistence.migrator import ExpectedSchema


def test_schema_state_tells_behind_from_ahead() -> None:
    expected = ExpectedSchema(heads=frozenset({"b"}), known=frozenset({"a", "b"}))
    assert expected.describe(("b",)) == "current"
    assert expected.describe(("a",)) == "behind"
    assert expected.describe(()) == "behind"
    # Migrated by a newer release during a rolling deploy: the old code still serves.
    assert expected.describe(("c",)) == "ahead"
