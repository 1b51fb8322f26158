"""``tests_common.pytest_plugin``: the fixtures the dbt Cloud provider's unit tests use, without a database.

- ``create_connection_without_db``: defines a connection through ``AIRFLOW_CONN_<ID>``, as Airflow's does;
- ``mock_supervisor_comms``: Airflow 3's task-SDK channel, mocked, as Airflow's does;
- structlog (Airflow 3's ``self.log``) routed to the standard library for each test, so ``caplog`` sees
  what the code logs, as Airflow's own test setup arranges;
- ``dag_maker`` and ``create_task_instance_of_operator`` without a database, on Airflow 3: the task
  instance is the task SDK's ``RuntimeTaskInstance``, whose XComs go through ``mock_supervisor_comms``
  (all the provider's ``db_test`` tests need); on Airflow 2 the ``db_test`` tests are skipped
  (the upstream check reports them as skipped, never as passed).
"""

from __future__ import annotations

from unittest import mock

import pytest

from tests_common.test_utils.version_compat import AIRFLOW_V_3_0_PLUS

DB_TEST_SKIP = "needs Airflow's metadata database on Airflow 2, not provided by the tests_common shim"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "db_test: needs Airflow's metadata database")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("db_test") and not AIRFLOW_V_3_0_PLUS:
            item.add_marker(pytest.mark.skip(reason=DB_TEST_SKIP))


@pytest.fixture(autouse=True)
def _structlog_to_stdlib():
    import structlog

    saved = structlog.get_config()
    structlog.configure(
        processors=[structlog.stdlib.PositionalArgumentsFormatter(), structlog.stdlib.render_to_log_kwargs],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    yield
    structlog.configure(**saved)


@pytest.fixture
def create_connection_without_db(monkeypatch):
    """Define an Airflow connection for the test only, through its environment variable."""

    def create(connection) -> None:
        monkeypatch.setenv(f"AIRFLOW_CONN_{connection.conn_id.upper()}", connection.as_json())

    return create


@pytest.fixture
def mock_supervisor_comms():
    if not AIRFLOW_V_3_0_PLUS:
        yield None
        return
    with mock.patch("airflow.sdk.execution_time.task_runner.SUPERVISOR_COMMS", create=True) as comms:
        yield comms


class _DagMaker:
    """What the provider's link test reads of Airflow's ``dag_maker``: the DAG last made."""

    dag = None


@pytest.fixture
def dag_maker():
    return _DagMaker()


@pytest.fixture
def create_task_instance_of_operator(dag_maker, mock_supervisor_comms):
    """A task-SDK ``RuntimeTaskInstance`` of one operator in a new DAG; XComs go through the mocked comms."""
    import uuid

    from airflow.models.taskinstancekey import TaskInstanceKey
    from airflow.sdk import DAG
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    class _KeyedRuntimeTaskInstance(RuntimeTaskInstance):
        """Plus the ``key`` a database TaskInstance has, which operator links are given."""

        @property
        def key(self) -> TaskInstanceKey:
            return TaskInstanceKey(self.dag_id, self.task_id, self.run_id, self.try_number, self.map_index)

    def create(operator_class, *, dag_id: str, task_id: str, **operator_kwargs):
        with DAG(dag_id, schedule=None) as dag:
            task = operator_class(task_id=task_id, **operator_kwargs)
        dag_maker.dag = dag
        return _KeyedRuntimeTaskInstance.model_construct(
            id=uuid.uuid4(),
            task_id=task_id,
            dag_id=dag_id,
            run_id="test",
            try_number=1,
            map_index=-1,
            task=task,
            max_tries=0,
            dag_version_id=uuid.uuid4(),
        )

    return create
