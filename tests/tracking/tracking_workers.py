"""Functions run in spawned processes by the concurrency tests (importable by name, so spawn can find them)."""

from __future__ import annotations

import traceback

from report_factory import make_report

from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.tracking.store import TrackingStore


def save_same_run(url: str, barrier, results, kind: str, run_id: int, rounds: int) -> None:
    """Open the store (maybe fresh) at the same moment as a sibling, then save one run again and again."""
    try:
        barrier.wait(timeout=60)
        store = TrackingStore(url)
        barrier.wait(timeout=60)
        actions = []
        for round_number in range(rounds):
            for status in ("running", "success"):
                report = make_report(run_id, status=status, node_count=300 if status == "success" else 50)
                actions.append(
                    store.save_report(report, TrackingSource(kind=kind, name=f"{kind}-{round_number}")).action
                )
        store.close()
        results.put((kind, actions, None))
    except BaseException:  # the parent asserts on it, with the child's traceback
        results.put((kind, [], traceback.format_exc()))


def open_store(url: str, barrier, results, name: str) -> None:
    """Open a fresh store at the same moment as siblings: the schema must be created exactly once."""
    try:
        barrier.wait(timeout=60)
        TrackingStore(url).close()
        results.put((name, None))
    except BaseException:
        results.put((name, traceback.format_exc()))
