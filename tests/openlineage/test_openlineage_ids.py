"""Run ids: derived from host, account, run (and step + node), so tracking again re-sends the same ids."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import msgspec
import pytest
from required_services import needs_extra

pytestmark = needs_extra("openlineage")


def test_ids_are_stable_and_distinct_per_run_step_and_node(nightly_report):
    from airflow_provider_databand_dbt.openlineage.ids import node_run_id, run_level_run_id

    again = msgspec.structs.replace(nightly_report, collected_at=datetime.now(timezone.utc), status="running")
    other_run = msgspec.structs.replace(nightly_report, run_id=nightly_report.run_id + 1)
    other_host = msgspec.structs.replace(nightly_report, host="emea.dbt.com")

    assert run_level_run_id(again) == run_level_run_id(nightly_report)
    assert len({run_level_run_id(r) for r in (nightly_report, other_run, other_host)}) == 3
    node_ids = {node_run_id(nightly_report, step.index, node.unique_id) for step, node in nightly_report.iter_nodes()}
    assert len(node_ids) == sum(1 for _ in nightly_report.iter_nodes())
    assert node_run_id(nightly_report, 4, "model.x.y") != node_run_id(nightly_report, 5, "model.x.y")
    # UUIDv7-shaped, ordered by the run's creation time like the OpenLineage integrations' ids
    assert uuid.UUID(run_level_run_id(nightly_report)).version == 7


def test_a_run_without_any_time_still_gets_a_stable_id(nightly_report):
    from airflow_provider_databand_dbt.openlineage.ids import run_level_run_id

    timeless = msgspec.structs.replace(nightly_report, created_at=None, started_at=None)

    assert run_level_run_id(timeless) == run_level_run_id(msgspec.structs.replace(timeless))
    assert uuid.UUID(run_level_run_id(timeless)).version == 5


@pytest.mark.parametrize(
    ("airflow_run_id", "expected"),
    [
        ("scheduled__2026-11-26T00:00:00+00:00", datetime(2026, 11, 26, tzinfo=timezone.utc)),
        ("manual__2026-11-26T08:30:00.123456+00:00", datetime(2026, 11, 26, 8, 30, 0, 123456, tzinfo=timezone.utc)),
        ("manual__2026-11-26T08:30:00+00:00_Ab12Cd34", datetime(2026, 11, 26, 8, 30, tzinfo=timezone.utc)),
        ("my custom run", None),
        (None, None),
    ],
)
def test_the_logical_date_is_read_from_airflow_made_run_ids(airflow_run_id, expected):
    from airflow_provider_databand_dbt.openlineage.ids import logical_date_of

    assert logical_date_of(airflow_run_id) == expected


def test_airflow_task_ids_match_the_provider_or_fall_back_to_ours():
    from openlineage.client.uuid import generate_static_uuid

    from airflow_provider_databand_dbt.openlineage.ids import AirflowParent, airflow_task_run_id

    mapped = AirflowParent(
        dag_id="d", task_id="t", airflow_run_id="scheduled__2026-01-02T00:00:00+00:00", try_number=3, map_index=4
    )
    expected = generate_static_uuid(instant=datetime(2026, 1, 2, tzinfo=timezone.utc), data=b"ns.d.t.3.4")
    assert airflow_task_run_id("ns", mapped) == str(expected)

    custom = AirflowParent(dag_id="d", task_id="t", airflow_run_id="my custom run", try_number=1)
    assert airflow_task_run_id("ns", custom) == airflow_task_run_id("ns", custom)
    assert uuid.UUID(airflow_task_run_id("ns", custom)).version == 5
    assert airflow_task_run_id("ns", custom) != airflow_task_run_id("other", custom)
