"""The tracking service: collect a run, save it, then hand it to the other sinks. Every tracker calls it.

The API function, the CLI, the Airflow hook (and through it the operator and sensor), the monitor's
syncers and the coming webhook receiver all track through this class, so a sink added here
(OpenLineage, alerts) works for each of them. The store sink comes first and its errors are the
tracker's errors, as before; any later sink's failure is logged and counted, never raised.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Callable

from airflow_provider_databand_dbt.collector.client import CollectorClient
from airflow_provider_databand_dbt.collector.collect import (
    DEFAULT_COLLECT_DEADLINE,
    Progress,
    collect_run,
)
from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.safe_text import escape_controls
from airflow_provider_databand_dbt.sinks.protocols import RunStore, Sink
from airflow_provider_databand_dbt.sinks.registry import default_sinks
from airflow_provider_databand_dbt.sinks.request_budget import share_request_budget
from airflow_provider_databand_dbt.sinks.store import StoreSink, opened_store
from airflow_provider_databand_dbt.tracking.rows import SaveOutcome

log = logging.getLogger(__name__)

SinkFailed = Callable[[str, BaseException], None]


class TrackingService:
    """Collect + sinks for one store; long-lived callers (the monitor) keep one, others use :func:`tracking`.

    :param store: the store to save into (not closed here), or None to only collect and run the sinks.
    :param sinks: the sinks after the store; defaults to the registered ones (``registry.default_sinks``).
        A sink with a ``for_store(store)`` method is replaced by what it returns (alerts write in the store).
    :param on_sink_failure: called with the sink's name and the exception, e.g. to count it in a metric.
    """

    def __init__(
        self,
        store: RunStore | None,
        sinks: Sequence[Sink] | None = None,
        *,
        on_sink_failure: SinkFailed | None = None,
    ) -> None:
        self.store_sink = StoreSink(store) if store is not None else None
        self.sinks: list[Sink] = [_for_store(sink, store) for sink in (default_sinks() if sinks is None else sinks)]
        self.on_sink_failure = on_sink_failure
        self._failures: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    @property
    def wants_lineage(self) -> bool:
        """Whether a sink (OpenLineage) needs ``report.lineage``, so the collector keeps compiled SQL and tests."""
        return any(getattr(sink, "wants_lineage", False) for sink in self.sinks)

    @property
    def sink_failures(self) -> dict[str, int]:
        """Failures per sink name since this service was built."""
        with self._lock:
            return dict(self._failures)

    def collect(
        self,
        client: CollectorClient,
        account_id: int,
        run_id: int,
        *,
        progress: Progress | None = None,
        deadline: float | None = DEFAULT_COLLECT_DEADLINE,
        run: Any = None,
    ) -> RunReport:
        """Only collect (see ``collect_run``): callers that collect ahead in threads record in order later.

        :param run: the run as already fetched with its related objects (a runs page), or None.
        """
        return collect_run(
            client, account_id, run_id, progress=progress, deadline=deadline, run=run, lineage=self.wants_lineage
        )

    def record(self, report: RunReport, source: TrackingSource | None = None) -> SaveOutcome | None:
        """Save the report, then hand it to every other sink.

        :param source: who tracked it; defaults to ``TrackingSource(kind="api")``; stamped here.
        :return: what the store did, or None without a store.
        :raises TrackingError: the store could not save it (the other sinks are then not called).
        """
        stamped = (source or TrackingSource(kind="api")).stamped()
        outcome = self.store_sink.save(report, stamped) if self.store_sink is not None else None
        for sink in self.sinks:
            self._hand_to(sink, report, stamped, outcome)
        return outcome

    def track(
        self,
        client: CollectorClient,
        account_id: int,
        run_id: int,
        *,
        source: TrackingSource | None = None,
        progress: Progress | None = None,
        deadline: float | None = DEFAULT_COLLECT_DEADLINE,
    ) -> RunReport:
        """Collect one run and record it: what every tracker does for one run.

        :raises DbtCloudError: the run could not be read. :raises TrackingError: it could not be saved.
        """
        report = self.collect(client, account_id, run_id, progress=progress, deadline=deadline)
        self.record(report, source)
        return report

    def _hand_to(self, sink: Sink, report: RunReport, source: TrackingSource, outcome: SaveOutcome | None) -> None:
        try:
            sink.handle(report, source, outcome)
        except Exception as exc:  # noqa: BLE001 - a sink never fails tracking nor the sinks after it
            name = _sink_name(sink)
            with self._lock:
                self._failures[name] += 1
            log.warning(
                "run %s is tracked, but sink %s failed (%s: %s)",
                report.run_id,
                name,
                type(exc).__name__,
                _one_line(exc),
            )
            if self.on_sink_failure is not None:
                try:
                    self.on_sink_failure(name, exc)
                except Exception:
                    log.debug("on_sink_failure callback failed", exc_info=True)


@contextlib.contextmanager
def tracking(
    store: Any = True,
    tracking_url: str | None = None,
    *,
    sinks: Sequence[Sink] | None = None,
    client: Any = None,
    label: str | None = None,
) -> Iterator[TrackingService]:
    """A service for one call of a short-lived tracker (API, CLI, hook), with the store opened and closed once.

    :param store: True to open the store at ``tracking_url``, an open store to use as is, False for none.
    :param tracking_url: SQLAlchemy URL when ``store`` is True (None: the default store).
    :param sinks: the sinks after the store; defaults to the registered ones.
    :param client: the dbt Cloud client of this call: inside the block it draws from the store's request
        budget of its account (``sinks/request_budget.py``), and gets its local limit back after it.
    :param label: what the tracker is (``cli``, ``airflow``...), recorded with a 429 block.
    :raises TrackingStoreUnavailable: the store cannot be opened.
    """
    with opened_store(store, tracking_url) as run_store:
        shared = client is not None and share_request_budget(client, run_store, label=label) is not None
        try:
            yield TrackingService(run_store, sinks)
        finally:
            if shared:
                client.use_request_budget(None)


def _for_store(sink: Sink, store: RunStore | None) -> Sink:
    """A sink that writes beside the run (alerts) is bound to this service's store through its ``for_store``."""
    bind = getattr(sink, "for_store", None)
    return bind(store) if store is not None and callable(bind) else sink


def _sink_name(sink: Any) -> str:
    name = getattr(sink, "name", None)
    return name if isinstance(name, str) and name else type(sink).__name__


def _one_line(error: BaseException) -> str:
    """A sink's error as one short log line (a sink may echo a server's multi-line answer)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return escape_controls(text[:300])
