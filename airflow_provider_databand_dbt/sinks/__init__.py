"""Collect, then hand the report on: the tracking service and its sinks (the store first).

``tracking()`` for a one-off call, ``TrackingService`` for long-lived callers, ``Sink`` to add one.
"""

from __future__ import annotations

from airflow_provider_databand_dbt.openlineage.sink import openlineage_sink
from airflow_provider_databand_dbt.sinks.protocols import RunStore, Sink
from airflow_provider_databand_dbt.sinks.registry import (
    default_sinks,
    register_sink_factory,
    unregister_sink_factory,
)
from airflow_provider_databand_dbt.sinks.service import TrackingService, tracking
from airflow_provider_databand_dbt.sinks.store import StoreSink, opened_store

# The built-in sinks; each factory returns None unless its feature is configured.
register_sink_factory(openlineage_sink)

__all__ = [
    "RunStore",
    "Sink",
    "StoreSink",
    "TrackingService",
    "default_sinks",
    "opened_store",
    "register_sink_factory",
    "tracking",
    "unregister_sink_factory",
]
