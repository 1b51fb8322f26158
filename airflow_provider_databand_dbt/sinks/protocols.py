"""The seams of the tracking service: the store it saves into and the sinks it hands reports to.

Typed as ``Protocol``s so the service depends on what it calls, not on ``TrackingStore`` itself:
an exporter, an alert evaluator or a test's recording sink only has to have ``name`` and ``handle``.
"""

from __future__ import annotations

from typing import Protocol

from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.tracking.rows import SaveOutcome


class RunStore(Protocol):
    """The tracking store as the service uses it (``TrackingStore`` is one)."""

    @property
    def display_url(self) -> str:
        """The store's URL with credentials masked, for messages."""
        ...

    def save_report(self, report: RunReport, source: TrackingSource | None = None) -> SaveOutcome:
        """Create or update the run; raises a ``TrackingError`` when it cannot."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class Sink(Protocol):
    """Something told about every tracked run after the store saved it (OpenLineage, alerts...).

    A sink's failure is logged and counted by the service; it never fails tracking nor other sinks.
    """

    @property
    def name(self) -> str:
        """Short name for logs and the failure counter, e.g. ``openlineage``."""
        ...

    def handle(self, report: RunReport, source: TrackingSource, outcome: SaveOutcome | None) -> None:
        """Act on one tracked run.

        :param report: the run as collected.
        :param source: who tracked it (stamped with time and host).
        :param outcome: what the store did (``created``, ``updated``, ``kept_newer``), None without a store.
        """
        ...
