"""Every folder of Python code under src/ is a package, so the import-linter contracts see all of it."""

from __future__ import annotations

from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
#: Alembic loads these by path; they are not imported as packages.
NOT_PACKAGES = {SRC / "infrastructure/persistence/migrations", SRC / "infrastructure/persistence/migrations/versions"}


def test_every_folder_with_python_code_under_src_is_a_package() -> None:
    missing = sorted(
        str(folder.relative_to(SRC.parent))
        for folder in {path.parent for path in SRC.rglob("*.py")}
        if folder not in NOT_PACKAGES and not (folder / "__init__.py").exists()
    )
    assert missing == []
