"""End to end: ``databand-dbt collect`` in a real subprocess, with OPENLINEAGE_URL pointing at a local HTTP endpoint."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lineage_schema import validate_event
from required_services import needs_extra
from sink_doubles import SinkEndpoint, closed_port_url

from airflow_provider_databand_dbt.testing.emulator import NIGHTLY_JOB_ID
from airflow_provider_databand_dbt.tracking.store import TrackingStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from cli_run import collect_with_only  # noqa: E402

pytestmark = needs_extra("openlineage")


def _collect(emulator, run_id: int, tracking_url: str, tmp_path, **settings: str):
    return collect_with_only(emulator, run_id, tracking_url, tmp_path, ("OPENLINEAGE",), **settings)


def test_collect_sends_valid_events_and_re_tracking_resends_the_same_run_ids(emulator, sqlite_url, tmp_path):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    with SinkEndpoint() as endpoint:
        first = _collect(emulator, run_id, sqlite_url, tmp_path, OPENLINEAGE_URL=endpoint.url)
        assert first.returncode == 0, first.stderr
        sent_first = list(endpoint.received)
        second = _collect(emulator, run_id, sqlite_url, tmp_path, OPENLINEAGE_URL=endpoint.url)
        assert second.returncode == 0, second.stderr
        sent_second = endpoint.received[len(sent_first) :]

    assert len(sent_first) > 10
    for event in sent_first:
        validate_event(event)
    run_level = [event for event in sent_first if "dbt_cloud_run" in event["run"]["facets"]]
    assert [event["run"]["facets"]["dbt_cloud_run"]["run_id"] for event in run_level] == [run_id]
    assert [(e["run"]["runId"], e["eventType"]) for e in sent_second] == [
        (e["run"]["runId"], e["eventType"]) for e in sent_first
    ]


def test_disabled_sends_nothing_and_a_dead_endpoint_does_not_fail_collect(emulator, sqlite_url, tmp_path):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    with SinkEndpoint() as endpoint:
        disabled = _collect(
            emulator, run_id, sqlite_url, tmp_path, OPENLINEAGE_URL=endpoint.url, OPENLINEAGE_DISABLED="true"
        )
        assert disabled.returncode == 0, disabled.stderr
        assert endpoint.received == []

    down = _collect(
        emulator,
        run_id,
        sqlite_url,
        tmp_path,
        OPENLINEAGE_URL=closed_port_url(),
        DATABAND_DBT_OPENLINEAGE_TIMEOUT="3",
    )

    assert down.returncode == 0, down.stderr
    assert "Traceback" not in down.stderr
    warnings = [line for line in down.stderr.splitlines() if "openlineage" in line.lower()]
    assert len(warnings) == 1, down.stderr
    assert os.environ.get("DBT_CLOUD_API_TOKEN", "never-set") not in down.stderr
    with TrackingStore(sqlite_url) as store:
        assert store.get_report(run_id).status == "error"
