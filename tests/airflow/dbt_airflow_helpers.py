"""Helpers shared by the Airflow tests (importable because pytest puts this directory on sys.path)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"


def load_json(name: str) -> Any:
    """Test data from ``tests/airflow/data``."""
    return json.loads((DATA_DIR / name).read_text())


def connection_json(emulator, **overrides: Any) -> str:
    """The ``AIRFLOW_CONN_...`` value of a dbt_cloud connection to the emulator's demo account.

    :param overrides: connection fields to replace; None removes the field.
    """
    from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN

    fields = {"conn_type": "dbt_cloud", "login": str(DEMO_ACCOUNT_ID), "password": DEMO_TOKEN, "host": emulator.url}
    fields.update(overrides)
    return json.dumps({key: value for key, value in fields.items() if value is not None})


def make_operator(**kwargs: Any):
    """A DbtCloudRunAndTrackOperator that polls fast and gives up soon, as every operator test wants."""
    from airflow_provider_databand_dbt.operators import DbtCloudRunAndTrackOperator

    kwargs.setdefault("task_id", "run_and_track")
    kwargs.setdefault("check_interval", 0.1)
    kwargs.setdefault("timeout", 30)
    return DbtCloudRunAndTrackOperator(**kwargs)


def make_sensor(**kwargs: Any):
    """A DbtCloudRunAndTrackSensor that pokes fast and gives up soon, as every sensor test wants."""
    from airflow_provider_databand_dbt.sensors import DbtCloudRunAndTrackSensor

    kwargs.setdefault("task_id", "wait_and_track")
    kwargs.setdefault("poke_interval", 0.1)
    kwargs.setdefault("timeout", 30)
    return DbtCloudRunAndTrackSensor(**kwargs)


@dataclass
class FakeTaskInstance:
    """What our operators read from ``context["ti"]``; XComs are JSON round-tripped like Airflow stores them."""

    dag_id: str = "test_dag"
    task_id: str = "test_task"
    run_id: str = "manual__test"
    try_number: int = 1
    map_index: int = -1
    xcoms: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = json.loads(json.dumps(value))

    def xcom_pull(self, task_ids: Any = None, key: str = "return_value", **_: Any) -> Any:
        return self.xcoms.get(key)
