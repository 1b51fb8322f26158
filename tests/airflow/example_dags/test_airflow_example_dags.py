"""The example DAGs parse without import errors and use the classes they advertise."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

pytest.importorskip("airflow")

EXAMPLE_DAGS = Path(__file__).resolve().parents[3] / "example_dags"

EXPECTED = {
    "example_dbt_cloud_run_and_track": {"run_and_track": "DbtCloudRunAndTrackOperator"},
    "example_dbt_cloud_run_and_track_deferrable": {"run_and_track": "DbtCloudRunAndTrackOperator"},
    "example_dbt_cloud_trigger_then_sense": {
        "trigger_job": "DbtCloudRunJobOperator",
        "wait_and_track": "DbtCloudRunAndTrackSensor",
    },
    "example_dbt_cloud_track_then_sense": {
        "trigger_and_track": "DbtCloudRunAndTrackOperator",
        "wait_and_track": "DbtCloudRunAndTrackSensor",
    },
    "example_dbt_cloud_hook_collect_run": {"latest_finished_run": "_PythonDecoratedOperator"},
    "example_dbt_cloud_mapped_run_and_track": {"run_and_track": "DbtCloudRunAndTrackOperator"},
}


@pytest.fixture(scope="module")
def dagbag():
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2
        from airflow.models.dagbag import DagBag
    options = {"include_examples": False} if "include_examples" in inspect.signature(DagBag).parameters else {}
    return DagBag(dag_folder=str(EXAMPLE_DAGS), **options)


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_every_example_dag_is_there(dagbag):
    assert set(dagbag.dag_ids) == set(EXPECTED)


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_tasks_use_the_advertised_classes(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    for task_id, class_name in EXPECTED[dag_id].items():
        task = dag.get_task(task_id)
        assert class_name in {task.task_type, getattr(task, "operator_class", type(task)).__name__}
    assert dag.params["job_ids" if "mapped" in dag_id else "job_id"] is not None
