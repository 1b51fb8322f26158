#!/usr/bin/env python
"""Produce real dbt 1.11 artifacts with user-defined functions for the collector's tests.

dbt 1.11 added ``function`` resources: a ``functions`` section in manifest.json and results with
``function.<package>.<name>`` unique ids. DuckDB (the adapter of ``tests/dbt_project``) cannot build
them, so ``tests/dbt_udf_project`` is built on the throwaway PostgreSQL of ``scripts/start_postgres.sh``.
One function fails on purpose and the model using it is skipped.

Usage (from the repository root)::

    python scripts/generate_udf_artifacts.py

dbt runs in ``${DBT_UDF_VENV:-.cache/dbt-udf-venv}``, created with ``pip install 'dbt-core==1.11.*'
'dbt-postgres==1.10.*'`` when it has no ``bin/dbt`` yet. manifest.json and run_results.json are copied
byte for byte into ``tests/collector/data/udf_shop_1_11/``; timings, invocation ids and timestamps
change on every regeneration, the rest stays the same.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PROJECT_DIR = REPO_ROOT / "tests" / "dbt_udf_project"
OUTPUT_DIR = REPO_ROOT / "tests" / "collector" / "data" / "udf_shop_1_11"
DEFAULT_VENV = REPO_ROOT / ".cache" / "dbt-udf-venv"
PIP_REQUIREMENTS = ["dbt-core==1.11.*", "dbt-postgres==1.10.*"]
ARTIFACTS = ("manifest.json", "run_results.json")


def dbt_executable() -> Path:
    venv = Path(os.environ.get("DBT_UDF_VENV") or DEFAULT_VENV)
    dbt = venv / "bin" / "dbt"
    if not dbt.exists():
        print(f"creating {venv} with {' '.join(PIP_REQUIREMENTS)}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *PIP_REQUIREMENTS], check=True)
    return dbt


def postgres_port() -> str:
    """Start (or reuse) the test PostgreSQL; its URL is the last line the script prints."""
    output = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "start_postgres.sh")], check=True, capture_output=True, text=True
    ).stdout
    url = output.strip().splitlines()[-1]
    return url.rsplit(":", 1)[1].split("/", 1)[0]


def main() -> int:
    dbt = dbt_executable()
    env = {**os.environ, "UDF_SHOP_PGPORT": postgres_port(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    # A fixed path, so the project_dir recorded in run_results.json is the same on every regeneration.
    project = Path(tempfile.gettempdir()) / "databand-dbt-udf" / "udf_shop"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "README.md"))
    result = subprocess.run([str(dbt), "build", "--profiles-dir", "."], cwd=project, env=env)
    # One function fails on purpose, so dbt exits 1; anything else means the build did not happen.
    if result.returncode not in (0, 1):
        print(f"dbt build exited with {result.returncode}", file=sys.stderr)
        return 1
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    for name in ARTIFACTS:
        shutil.copyfile(project / "target" / name, OUTPUT_DIR / name)
    print(f"wrote {', '.join(ARTIFACTS)} to {OUTPUT_DIR.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
