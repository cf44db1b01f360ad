"""Alembic sees every table: each module that declares models is listed in ``schema.MODEL_MODULES``.

The models of a context are loaded by the repositories that use them, not by one module that
imports them all; a model module left out of the list would be a table autogenerate proposes to drop.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from src.infrastructure.persistence import schema
from tests.conftest import TEST_SECRET_KEY

PERSISTENCE = Path(schema.__file__).parent
ROOT = PERSISTENCE.parents[2]
TABLE_NAME = re.compile(r'^\s+__tablename__ = "(\w+)"', re.MULTILINE)


def test_every_model_module_is_listed() -> None:
    on_disk = {f"src.infrastructure.persistence.{p.stem}" for p in PERSISTENCE.glob("*models.py")}

    assert on_disk == set(schema.MODEL_MODULES)


def test_a_fresh_process_sees_every_declared_table_through_every_table() -> None:
    declared = {name for p in PERSISTENCE.glob("*models.py") for name in TABLE_NAME.findall(p.read_text())}
    script = (
        "import json; from src.infrastructure.persistence.schema import every_table;"
        " print(json.dumps(sorted(every_table().tables)))"
    )

    seen = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)

    assert len(declared) > 20
    assert set(json.loads(seen.stdout)) == declared


SCOPES = PERSISTENCE / "scopes"
LAZY_IMPORT = re.compile(r"^ +from (src\.infrastructure\.persistence\.\w+) import", re.MULTILINE)


def test_the_full_container_imports_every_module_the_repository_mixins_import_lazily(tmp_path: Path) -> None:
    from src.infrastructure.persistence.scopes import REPOSITORY_MODULES

    lazily = {m for p in SCOPES.glob("*.py") for m in LAZY_IMPORT.findall(p.read_text())}
    script = (
        "import json, sys; from src.infrastructure.container import build_container;"
        " from src.infrastructure.settings import load_settings; build_container(load_settings());"
        " print(json.dumps(sorted(sys.modules)))"
    )
    env = {"PATH": "/usr/bin:/bin", "APP_ENV": "test", "PARLEY_VAR_DIR": str(tmp_path), "SECRET_KEY": TEST_SECRET_KEY}

    built = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)

    assert lazily == set(REPOSITORY_MODULES)
    assert built.returncode == 0, built.stderr[-2000:]
    assert lazily <= set(json.loads(built.stdout.splitlines()[-1]))
