"""Fixtures for the Airflow layer: an isolated AIRFLOW_HOME, a ``dbt_cloud`` connection to the emulator,
and a minimal task context for calling ``execute`` directly (as the provider's own tests do).

Airflow must not be imported before ``AIRFLOW_HOME`` points at a temp directory, so nothing here
imports it at module level; the test modules skip themselves when Airflow is not installed.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest
from dbt_airflow_helpers import FakeTaskInstance, connection_json

if "airflow" not in sys.modules:
    # Airflow writes airflow.cfg into AIRFLOW_HOME on import: never into the developer's home.
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="databand-dbt-airflow-home-")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.airflow)


@pytest.fixture()
def dbt_cloud_conn(emulator, monkeypatch):
    """``dbt_cloud_default`` pointing at a fresh emulator whose triggered runs end within a second."""
    monkeypatch.setenv("AIRFLOW_CONN_DBT_CLOUD_DEFAULT", connection_json(emulator))
    emulator.set_lifecycle(0.2, 0.5)
    return emulator


@pytest.fixture()
def default_store():
    """The store the Airflow layer writes to by default in tests (the root conftest's temp SQLite file)."""
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    tracking_store = TrackingStore(os.environ["DATABAND_DBT_TRACKING_URL"])
    yield tracking_store
    tracking_store.close()


@pytest.fixture()
def task_context():
    """A context for ``operator.execute(context)``; ``context["ti"].xcoms`` holds what was pushed."""
    ti = FakeTaskInstance()
    return {"ti": ti, "task_instance": ti, "run_id": ti.run_id}


@pytest.fixture()
def dag():
    """A DAG to create operators in (the provider's operator reads ``self.dag.dag_id``)."""
    from airflow.providers.common.compat.sdk import DAG

    with DAG(dag_id="test_dag", schedule=None) as test_dag:
        yield test_dag
