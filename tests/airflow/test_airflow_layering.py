"""The Airflow layer's seams, read from the source (AST), so a stray import fails here and not in review.

- the sensor does not import the operator's package: what both need lives in ``utils/``, as in the
  dbt Cloud provider (``airflow/providers/dbt/cloud/utils/``);
- the hook retries through the dbt Cloud client's policy: no second, tenacity-based one;
- one tracking-URL resolver for every Airflow entry point (hook, operator, sensor, plugin).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "airflow_provider_databand_dbt"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE


def imported_modules(source: str, package: str) -> set[str]:
    """Every module a file of ``package`` imports, anywhere in it (top level, functions,
    ``TYPE_CHECKING``), relative imports made absolute; ``from a import b`` counts ``a`` and ``a.b``."""
    tree = ast.parse(source)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def imports_of(folder: str) -> dict[str, set[str]]:
    found = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        package = ".".join(path.relative_to(ROOT.parent).parts[:-1])
        found[str(path.relative_to(ROOT.parent))] = imported_modules(path.read_text(), package)
    return found


def offending(folder: str, forbidden: str) -> list[str]:
    return [
        f"{file} imports {module}"
        for file, modules in imports_of(folder).items()
        for module in sorted(modules)
        if module == forbidden or module.startswith(forbidden + ".")
    ]


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        ("sensors", f"{PACKAGE}.operators"),
        ("operators", f"{PACKAGE}.sensors"),
        ("utils", f"{PACKAGE}.operators"),
        ("utils", f"{PACKAGE}.sensors"),
        ("hooks", f"{PACKAGE}.operators"),
        ("hooks", f"{PACKAGE}.sensors"),
        ("triggers", f"{PACKAGE}.operators"),
        ("triggers", f"{PACKAGE}.sensors"),
    ],
)
def test_airflow_layer_imports_go_down_only(folder, forbidden):
    assert offending(folder, forbidden) == [], f"shared code belongs in {PACKAGE}/utils/"


def test_the_hook_has_no_retry_stack_of_its_own():
    assert offending("hooks", "tenacity") == [], "the hook retries through dbt_cloud.retry.RetryPolicy"


def test_the_scan_sees_relative_and_nested_imports():
    source = (
        "from typing import TYPE_CHECKING\n"
        "from ..operators.links import X\n"
        "from . import dbt\n"
        "if TYPE_CHECKING:\n    import airflow_provider_databand_dbt.operators.dbt\n"
        "def f():\n    from .. import operators\n"
    )
    modules = imported_modules(source, f"{PACKAGE}.sensors")
    assert {
        f"{PACKAGE}.operators.links",
        f"{PACKAGE}.operators.links.X",
        f"{PACKAGE}.sensors.dbt",
        f"{PACKAGE}.operators.dbt",
        f"{PACKAGE}.operators",
    } <= modules


def test_one_tracking_url_resolver_for_hook_and_plugin():
    """The plugin's web view and the hook ask the same function (the plugin had its own copy)."""
    plugin_source = (ROOT / "www" / "airflow_plugin.py").read_text()
    assert "def airflow_tracking_url" not in plugin_source
    assert f"{PACKAGE}.hooks.config.airflow_tracking_url" in imported_modules(plugin_source, f"{PACKAGE}.www")
    definitions = [
        str(path.relative_to(ROOT.parent))
        for path in ROOT.rglob("*.py")
        if "def airflow_tracking_url" in path.read_text()
    ]
    assert definitions == [f"{PACKAGE}/hooks/config.py"]


def test_plugin_web_view_reads_the_store_the_hook_writes(monkeypatch, tmp_path):
    pytest.importorskip("airflow.api_fastapi")
    from airflow_provider_databand_dbt.hooks.config import airflow_tracking_url
    from airflow_provider_databand_dbt.www import airflow_plugin

    (app_entry,) = airflow_plugin._fastapi_apps()
    setting = app_entry["app"].state.store._setting
    assert setting is airflow_tracking_url
    monkeypatch.setenv("DATABAND_DBT_TRACKING_URL", f"sqlite:///{tmp_path}/env.db")
    monkeypatch.setenv("AIRFLOW__DATABAND_DBT__TRACKING_URL", f"sqlite:///{tmp_path}/airflow.db")
    assert setting() == airflow_tracking_url() == f"sqlite:///{tmp_path}/airflow.db"
    monkeypatch.setenv("AIRFLOW__DATABAND_DBT__TRACKING_URL", " ")
    assert setting() == f"sqlite:///{tmp_path}/env.db"
