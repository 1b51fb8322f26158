"""The record of dbt Cloud runs per Airflow task instance try (revision r0005), on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from report_factory import make_report
from store_probe import schema_revisions, table_names

from airflow_provider_databand_dbt.tracking import migrations, schema
from airflow_provider_databand_dbt.tracking.engine import open_connection
from airflow_provider_databand_dbt.tracking.migrations import head_revision
from airflow_provider_databand_dbt.tracking.store import TrackingStore
from airflow_provider_databand_dbt.tracking.task_runs import (
    TaskInstanceKey,
    TaskTriggerLedger,
)
from airflow_provider_databand_dbt.tracking.url import parse_tracking_url

KEY = TaskInstanceKey("dag", "task", "manual__1", -1)
ROW = {"host": "https://cloud.getdbt.com", "account_id": 1, "job_id": 101}


def test_a_store_of_the_previous_version_gains_the_table_with_nothing_lost(tracking_url):
    db = open_connection(parse_tracking_url(tracking_url))
    try:
        migrations.upgrade(db, target="r0004")  # a store of the previous revision: no task trigger table
    finally:
        db.dispose()
    assert schema.task_triggers.name not in table_names(tracking_url)
    with TrackingStore(tracking_url) as store:
        store.save_report(make_report(run_id=7))
    with TrackingStore(tracking_url) as store:
        assert store.get_report(7) is not None
        TaskTriggerLedger(store).begin(KEY, try_number=1, token="t", **ROW)
    assert schema.task_triggers.name in table_names(tracking_url)
    assert schema_revisions(tracking_url) == [head_revision()]


def test_rows_of_a_task_instance_and_their_end(tracking_url):
    other = TaskInstanceKey("dag", "task", "manual__1", 0)  # another map index: another task instance
    with TrackingStore(tracking_url) as store:
        ledger = TaskTriggerLedger(store)
        assert ledger.last(KEY) is None
        first = ledger.begin(KEY, try_number=1, token="a", **ROW)
        ledger.begin(other, try_number=1, token="b", dbt_run_id=5, **ROW)
        assert ledger.last(KEY).dbt_run_id is None and not ledger.last(KEY).ended
        ledger.set_run_id(first, 2**40)  # dbt Cloud ids outgrow 32 bits
        ledger.begin(KEY, try_number=2, token="a", dbt_run_id=2**40, triggered_by_try=1, **ROW)
        assert ledger.end(KEY, "success") == 2  # the dead try's row and this try's
        rows = ledger.all(KEY)
        assert [(r.try_number, r.dbt_run_id, r.triggered_by_try, r.outcome) for r in rows] == [
            (1, 2**40, 1, "success"),
            (2, 2**40, 1, "success"),
        ]
        assert not ledger.last(other).ended
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(schema.task_triggers)).scalar() == 3
