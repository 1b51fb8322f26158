"""A tracker process for the shared request budget tests: GETs one account as fast as its budget lets it.

Usage: ``python budget_worker.py API_URL TRACKING_URL SECONDS START_AT`` (token from ``DBT_CLOUD_API_TOKEN``;
START_AT: epoch seconds to begin at, so several workers start together).
Builds its client the way every tracker does (``tracking(..., client=client)``), sends ``GET account`` in a
loop for SECONDS, and prints one JSON line: the wall-clock time and outcome of every attempt, the store
transactions it made and the requests it sent.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> None:
    from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
    from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudError
    from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy
    from airflow_provider_databand_dbt.sinks.service import tracking

    api_url, tracking_url, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    attempts: list[tuple[float, str]] = []
    client = DbtCloudClient(
        os.environ["DBT_CLOUD_API_TOKEN"],
        api_url,
        retry=RetryPolicy(max_attempts=3, max_total_seconds=30),
        request_listener=lambda method, route, outcome: attempts.append((time.time(), outcome)),
    )
    store_transactions = 0
    with client, tracking(True, tracking_url, client=client, label="budget worker") as service:
        engine = service.store_sink.store.engine
        from sqlalchemy import event

        def count(_conn) -> None:
            nonlocal store_transactions
            store_transactions += 1

        event.listen(engine, "commit", count)
        time.sleep(max(0.0, float(sys.argv[4]) - time.time()))
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                client.get_account(1)
            except DbtCloudError as exc:
                attempts.append((time.time(), f"error {type(exc).__name__}"))
        requests = client.request_count
    print(json.dumps({"attempts": attempts, "store_transactions": store_transactions, "requests": requests}))


if __name__ == "__main__":
    main()
