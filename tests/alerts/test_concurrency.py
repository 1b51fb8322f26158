"""Two trackers of the same run (operator + monitor + webhook), at the same time: one incident, one notification."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from airflow_provider_databand_dbt.alerts.sink import AlertSink
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.sinks.service import TrackingService
from airflow_provider_databand_dbt.testing.synthetic_runs import NodeSpec, build_report
from airflow_provider_databand_dbt.tracking.store import TrackingStore

HERE = Path(__file__).parent
FAILED = [NodeSpec(name="b", status="error")]


def test_threads_with_their_own_stores_record_one_run_once(tracking_url, published, incidents, store):
    barrier = threading.Barrier(4)
    failures = []

    def tracker(kind: str) -> None:
        own = TrackingStore(tracking_url)
        try:
            service = TrackingService(own, [AlertSink(published)])
            barrier.wait()
            service.record(build_report(9, status="error", nodes=FAILED), TrackingSource(kind=kind))
            failures.extend(service.sink_failures)
        finally:
            own.close()

    threads = [threading.Thread(target=tracker, args=(kind,)) for kind in ("airflow", "monitor", "webhook", "cli")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert sorted(published.changes(), key=str) == [
        ("opened", "new_failure", "model.shop.b"),
        ("opened", "run_failed", None),
    ]
    assert len(incidents(status="open")) == 2
    assert all(i.occurrences == 1 for i in incidents())


def test_processes_record_one_run_once(tracking_url, tmp_path, incidents, store):
    out = tmp_path / "keys.txt"
    start_at = time.time() + 3.0  # every worker imported and connected, then all save at once
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    workers = [
        subprocess.Popen(
            [sys.executable, str(HERE / "alert_worker.py"), tracking_url, "9", "error", str(start_at), str(out)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for worker in workers:
        _, stderr = worker.communicate(timeout=120)
        assert worker.returncode == 0, stderr[-2000:]
    keys = out.read_text().split()
    assert len(keys) == 2 and len(set(keys)) == 2, keys
    assert {i.rule for i in incidents(status="open")} == {"run_failed", "new_failure"}
    assert all(i.occurrences == 1 for i in incidents())
