"""The web view reads through the one reader in ``tracking/read/``: no SQL, no SQLAlchemy in ``www/``."""

from __future__ import annotations

import ast
from pathlib import Path

from airflow_provider_databand_dbt import www

WWW = Path(www.__file__).parent
FORBIDDEN = ("sqlalchemy", "airflow_provider_databand_dbt.tracking.schema")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_www_modules_import_neither_sqlalchemy_nor_the_tables():
    offenders = {
        path.name: sorted(name for name in _imports(path) if name.startswith(FORBIDDEN))
        for path in sorted(WWW.glob("*.py"))
    }
    assert not {name: found for name, found in offenders.items() if found}
