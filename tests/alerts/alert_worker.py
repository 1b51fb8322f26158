"""A separate tracker process for the concurrency test: record one run through the AlertSink at a given instant.

Usage: ``python alert_worker.py URL RUN_ID STATUS START_AT OUT_FILE``; each published notification key is
appended to OUT_FILE as one line (after the transaction commits, so a rolled-back publish leaves no line).
"""

from __future__ import annotations

import sys
import time

from airflow_provider_databand_dbt.alerts.sink import AlertSink
from airflow_provider_databand_dbt.sinks.service import TrackingService
from airflow_provider_databand_dbt.testing.synthetic_runs import NodeSpec, build_report
from airflow_provider_databand_dbt.tracking.store import TrackingStore


def main(url: str, run_id: int, status: str, start_at: float, out: str) -> None:
    keys: list[str] = []
    store = TrackingStore(url)
    service = TrackingService(store, [AlertSink(lambda conn, notes: keys.extend(n.key for n in notes))])
    report = build_report(
        run_id, status=status, nodes=[NodeSpec(name="b", status="error" if status == "error" else "success")]
    )
    time.sleep(max(0.0, start_at - time.time()))
    service.record(report)
    store.close()
    if service.sink_failures:
        raise SystemExit(f"sink failed: {service.sink_failures}")
    with open(out, "a", encoding="utf-8") as handle:
        handle.writelines(f"{key}\n" for key in keys)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5])
