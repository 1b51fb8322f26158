"""The one place a tracker's dbt Cloud client is tied to its tracking store's request budget.

Every process that tracks into a store (monitor syncers, Airflow hook/operator/sensor, the CLI, the Python
API) calls :func:`share_request_budget` once it has both a client and the store, so they all draw from the
budget of (host, account) kept there and all wait out a 429 one of them saw. Without a store a client keeps
its local limit (``max_requests_per_minute``), as before.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any, Optional

from airflow_provider_databand_dbt.dbt_cloud.shared_budget import SharedBudget


def budget_owner(label: Optional[str] = None) -> str:
    """Who we are in the budget table: ``label@host:pid`` (the program name when no label is given)."""
    name = label or os.path.basename(sys.argv[0] or "python") or "python"
    return f"{name}@{socket.gethostname()}:{os.getpid()}"[:255]


def share_request_budget(client: Any, store: Any, *, label: Optional[str] = None) -> Optional[SharedBudget]:
    """Make ``client`` draw its requests from ``store``'s budget for its (host, account); None without a store.

    :param client: a ``DbtCloudClient`` (or a wrapper forwarding ``use_request_budget``).
    :param store: an open ``TrackingStore``; None, False or a store without budgets leaves the local limit.
    :param label: what this tracker is, e.g. ``monitor syncer prod``, recorded with a 429 block.
    """
    if store is None or store is False or not hasattr(store, "take_request_tokens"):
        return None
    if not hasattr(client, "use_request_budget"):  # a test double or another client: its own limits
        return None
    return client.use_request_budget(store, owner=budget_owner(label))
