"""The store sink: the first and only required sink, and the one place a store is opened per call.

Its failures are tracking failures (``RunNotStorable``, ``TrackingStoreUnavailable``... see
docs/errors.md) and propagate as before; later sinks run only once the run is saved.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.sinks.protocols import RunStore
from airflow_provider_databand_dbt.tracking.rows import SaveOutcome

log = logging.getLogger(__name__)


class StoreSink:
    """Save each report in a tracking store.

    :param store: an open store; the caller (or :func:`opened_store`) owns and closes it.
    """

    name = "store"

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def save(self, report: RunReport, source: TrackingSource) -> SaveOutcome:
        """Create or update the run and record ``source``; store errors propagate."""
        outcome = self.store.save_report(report, source)
        log.info("run %s stored in %s (%s)", report.run_id, self.store.display_url, outcome.action)
        return outcome


@contextlib.contextmanager
def opened_store(store: Any = True, tracking_url: str | None = None) -> Iterator[RunStore | None]:
    """The store a short-lived tracker uses for one call, closed afterwards only if opened here.

    :param store: True to open ``TrackingStore(tracking_url)`` (the default store when the URL is None),
        an open store to use as is (its owner closes it), or False / None for no store.
    :param tracking_url: SQLAlchemy URL of the store to open when ``store`` is True.
    :raises TrackingStoreUnavailable: the store cannot be opened.
    """
    if store is False or store is None:
        yield None
        return
    if store is not True:
        yield store
        return
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    owned = TrackingStore(tracking_url)
    try:
        yield owned
    finally:
        owned.close()
