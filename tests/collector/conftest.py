"""Collector fixtures: a client on the emulator with quick retries, and the scenarios' expected results."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest

from airflow_provider_databand_dbt.testing.scenarios import ARTIFACTS_DIR, SCENARIOS_FILE

FAST_RETRY = {"max_attempts": 2, "backoff_base": 0.01, "backoff_max": 0.02, "jitter": False, "max_total_seconds": 5.0}


@pytest.fixture(scope="session")
def expected() -> dict[str, dict]:
    """Per scenario, the ``expected`` block that scripts/generate_artifacts.py computed from the real
    artifacts, plus ``summary``: node counts per status over all steps."""
    document = json.loads(SCENARIOS_FILE.read_text())
    blocks = {}
    for scenario in document["scenarios"]:
        block = dict(scenario["expected"])
        total: Counter = Counter()
        for step in block["steps"].values():
            total.update(step["by_status"])
        block["summary"] = dict(total)
        block["run_status"] = scenario["run_status"]
        blocks[scenario["name"]] = block
    return blocks


@pytest.fixture()
def client(emulator):
    from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
    from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy
    from airflow_provider_databand_dbt.testing.emulator import DEMO_TOKEN

    with DbtCloudClient(DEMO_TOKEN, emulator.url, timeout=(2.0, 5.0), retry=RetryPolicy(**FAST_RETRY)) as dbt_cloud:
        yield dbt_cloud


@pytest.fixture()
def nightly_copy(tmp_path):
    """A writable copy of the nightly_build artifacts, to serve modified files with ``add_run(artifacts_dir=...)``."""
    target = tmp_path / "nightly_build"
    shutil.copytree(ARTIFACTS_DIR / "nightly_build", target)
    return target
