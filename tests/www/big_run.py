"""A store holding one very big run (default 116,000 nodes), for the web view's memory and paging tests.

    python tests/www/big_run.py sqlite:////tmp/big.db --nodes 116000

The run goes through ``TrackingStore.save_report`` like every tracker's does, so the rows are real.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from web_reports import T0, node, report

from airflow_provider_databand_dbt.model.report import RunReport

BIG_RUN_ID = 424242
STATUSES = ("success",) * 17 + ("error", "skipped", "warn")


def big_report(nodes: int, run_id: int = BIG_RUN_ID) -> RunReport:
    """One finished run with ``nodes`` model results, each depending on the one before, long messages."""
    results = []
    for i in range(nodes):
        unique_id = f"model.big_project.model_{i:06d}"
        results.append(
            node(
                unique_id,
                STATUSES[i % len(STATUSES)],
                message=f"SELECT {i} rows " + "x" * 120,
                depends_on=(f"model.big_project.model_{i - 1:06d}",) if i else (),
                offset=i * 0.01,
                seconds=0.5,
            )
        )
    run = report(run_id, status="error", nodes=tuple(results), job_name="Big build")
    run.finished_at = T0 + timedelta(hours=2)
    return run


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--nodes", type=int, default=116_000)
    args = parser.parse_args(argv)
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    with TrackingStore(args.url) as store:
        store.save_report(big_report(args.nodes))
    print(f"run {BIG_RUN_ID} with {args.nodes} nodes in {args.url}")


if __name__ == "__main__":
    main()
