"""A process killed half-way through an alert's life, for the crash tests (run as a script).

``python outbox_crash_worker.py MODE TRACKING_URL CONFIG_PATH KEY [LEASE]``:
``enqueue`` queues the notification (committed, as the rules' sink does with its incident change) and then
hangs where it would send it; ``claim`` also claims the row for LEASE seconds first, as a sender does right
before it posts. Either way it prints READY and waits to be killed.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1])]

from alert_helpers import notification  # noqa: E402

from airflow_provider_databand_dbt.alerts.config import load_alerts_config  # noqa: E402
from airflow_provider_databand_dbt.alerts.outbox import enqueue  # noqa: E402
from airflow_provider_databand_dbt.tracking import alert_outbox  # noqa: E402
from airflow_provider_databand_dbt.tracking.store import TrackingStore  # noqa: E402


def main(mode: str, url: str, config_path: str, key: str, lease: float = 0.0) -> None:
    config = load_alerts_config(config_path)
    store = TrackingStore(url)
    store.transact("queue", lambda conn: enqueue(conn, [notification(key=key)], config))
    if mode == "claim":
        now = datetime.now(timezone.utc)
        (row_id,) = store.read("due", lambda conn: alert_outbox.due_ids(conn, ["hook"], now, 10))
        store.transact(
            "claim", lambda conn: alert_outbox.claim(conn, row_id, "doomed", now, now + timedelta(seconds=lease))
        )
    print("READY", flush=True)
    time.sleep(600)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]) if len(sys.argv) > 5 else 0.0)
