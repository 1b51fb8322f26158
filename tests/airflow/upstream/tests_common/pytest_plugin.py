"""``tests_common.pytest_plugin``: the fixtures the dbt Cloud provider's unit tests use, without a database.

- ``create_connection_without_db``: defines a connection through ``AIRFLOW_CONN_<ID>``, as Airflow's does;
- ``mock_supervisor_comms``: Airflow 3's task-SDK channel, mocked, as Airflow's does;
- structlog (Airflow 3's ``self.log``) routed to the standard library for each test, so ``caplog`` sees
  what the code logs, as Airflow's own test setup arranges;
- tests marked ``db_test`` need Airflow's metadata database and ``dag_maker``, which this shim does
  not provide: they are skipped (the upstream check reports them as skipped, never as passed).
"""
from __future__ import annotations

from unittest import mock

import pytest

from tests_common.test_utils.version_compat import AIRFLOW_V_3_0_PLUS

DB_TEST_SKIP = "needs Airflow's metadata database (dag_maker), not provided by the tests_common shim"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "db_test: needs Airflow's metadata database")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("db_test"):
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
