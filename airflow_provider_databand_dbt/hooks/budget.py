"""The hook's own dbt Cloud requests (trigger, poll, list...) drawn from the tracking store's request budget.

The provider's code in ``DbtCloudHook`` sends them with ``requests``; ``DbtCloudTrackingHook`` takes a
token of the account's shared budget before each attempt and reports a 429 to it, so an Airflow task
polling a run waits out another process's lock-out instead of hammering the account. The store is opened
on the first request; when it cannot be, the hook sends as before (one warning).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Optional
from urllib.parse import urlsplit

from airflow_provider_databand_dbt.dbt_cloud.retry import parse_retry_after
from airflow_provider_databand_dbt.dbt_cloud.shared_budget import SharedBudget
from airflow_provider_databand_dbt.hooks.config import airflow_tracking_url
from airflow_provider_databand_dbt.hooks.retries import status_and_headers
from airflow_provider_databand_dbt.sinks.request_budget import budget_owner

log = logging.getLogger(__name__)

_ACCOUNT_IN_PATH = re.compile(r"accounts/(\d+)")


def account_in(endpoint: str | None) -> Optional[int]:
    """The account id of a provider endpoint (``api/v2/accounts/12/runs/``), or None."""
    found = _ACCOUNT_IN_PATH.search(endpoint or "")
    return int(found.group(1)) if found else None


def _account(endpoint_or_account: str | int | None) -> Optional[int]:
    return endpoint_or_account if isinstance(endpoint_or_account, int) else account_in(endpoint_or_account)


class HookBudget:
    """The shared budget of one hook's dbt Cloud host, opened on first use.

    :param api_url: the connection's API base URL (its host is the budget's key).
    :param tracking_url: the store's URL (None: ``[databand_dbt] tracking_url``, then the default store).
    """

    def __init__(self, api_url: str, tracking_url: Optional[str]) -> None:
        self.host = urlsplit(api_url).netloc
        self.tracking_url = tracking_url
        self._lock = threading.Lock()
        self._opened = False
        self.budget: Optional[SharedBudget] = None

    def _shared(self) -> Optional[SharedBudget]:
        with self._lock:
            if not self._opened:
                self._opened = True
                self.budget = self._open()
            return self.budget

    def _open(self) -> Optional[SharedBudget]:
        return process_budget(airflow_tracking_url(self.tracking_url), self.host)

    def acquire(self, endpoint_or_account: str | int | None) -> None:
        """Wait for a token of the account (an id, or a provider endpoint naming it); no-op without one or a store."""
        account = _account(endpoint_or_account)
        budget = self._shared() if account is not None else None
        if budget is not None and account is not None:
            budget.acquire(account)

    def failed(self, endpoint_or_account: str | int | None, error: BaseException) -> None:
        """Tell the budget about a 429, so every process waits for its Retry-After."""
        status, headers = status_and_headers(error)
        account = _account(endpoint_or_account)
        if status != 429 or account is None or self.budget is None:
            return
        self.budget.rate_limited(account, parse_retry_after(headers.get("Retry-After")) if headers else None)

    def close(self) -> None:
        """Forget the budget; the process-wide one (and its store) stays open for the next hook."""
        self.budget = None


# One budget per (store URL, dbt Cloud host) for the whole process: every hook of a worker or of the
# triggerer shares one store connection pool and one batch of tokens, and no hook leaks a pool.
_process_lock = threading.Lock()
_process_budgets: dict[tuple[str, str], SharedBudget] = {}
_failed_at: dict[tuple[str, str], float] = {}
RETRY_STORE_SECONDS = 60.0


def process_budget(tracking_url: Optional[str], host: str) -> Optional[SharedBudget]:
    """The process's budget for ``host`` in the store at ``tracking_url``; None when the store cannot be opened.

    A store that failed is tried again after ``RETRY_STORE_SECONDS``, with one warning per failure.
    """
    from airflow_provider_databand_dbt.tracking.store import TrackingStore
    from airflow_provider_databand_dbt.tracking.url import choose_tracking_url

    key = (choose_tracking_url(tracking_url).url, host)  # the store actually meant, defaults resolved
    with _process_lock:
        budget = _process_budgets.get(key)
        if budget is not None:
            return budget
        if time.monotonic() - _failed_at.get(key, -RETRY_STORE_SECONDS) < RETRY_STORE_SECONDS:
            return None
        try:
            store = TrackingStore(tracking_url)
        except Exception as exc:  # noqa: BLE001 - the task's dbt work never depends on the store
            _failed_at[key] = time.monotonic()
            log.warning("dbt Cloud requests of this task use no shared request budget: %s", exc)
            return None
        budget = _process_budgets[key] = SharedBudget(store, host, owner=budget_owner("airflow hook"))
        return budget
