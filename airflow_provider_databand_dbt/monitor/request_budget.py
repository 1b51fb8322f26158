"""At start, the monitor records each syncer's ``max_requests_per_minute`` as its account's shared budget.

The budget of (host, account) lives in the tracking store and every process tracking into that store draws
from it (``dbt_cloud/shared_budget.py``). The last monitor to start wins: replicas should share one config.
Syncers of one monitor on the same account (e.g. one per job) share one budget: the smallest of theirs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from airflow_provider_databand_dbt.monitor.config import SyncerConfig
from airflow_provider_databand_dbt.monitor.errors import describe
from airflow_provider_databand_dbt.sinks.request_budget import budget_owner

log = logging.getLogger(__name__)


def record_budgets(store: Any, syncers: Sequence[SyncerConfig], clients: Sequence[Any]) -> None:
    """Write the budget of every (host, account) the syncers poll; a store error is a warning, never fatal."""
    if not hasattr(store, "set_request_budget"):  # a store double of a test
        return
    budgets: dict[tuple[str, int], tuple[int, str]] = {}
    for syncer, client in zip(syncers, clients):
        key = (client.host, syncer.account_id)
        if key not in budgets or syncer.max_requests_per_minute < budgets[key][0]:
            budgets[key] = (syncer.max_requests_per_minute, syncer.name)
    for (host, account_id), (per_minute, name) in budgets.items():
        try:
            store.set_request_budget(host, account_id, per_minute, budget_owner(f"monitor syncer {name}"))
        except Exception as exc:  # noqa: BLE001 - the syncers still run, on their local limits
            log.warning(
                "could not record the request budget of account %s on %s in the store (%s); "
                "other processes keep their own limits",
                account_id,
                host,
                describe(exc),
            )
            return
        log.info(
            "request budget of account %s on %s: %s requests/min, shared by every process tracking into the store",
            account_id,
            host,
            per_minute,
        )
