"""Which sinks every tracker gets after the store: one list, so the API, CLI, Airflow and the monitor agree.

Alerts (issue 14) are registered below; the OpenLineage exporter registers its factory in
``sinks/__init__.py``. Each factory returns a sink when its feature is configured and None otherwise;
a factory that fails is logged and skipped.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Optional

from airflow_provider_databand_dbt.sinks.protocols import Sink

log = logging.getLogger(__name__)

SinkFactory = Callable[[], Optional[Sink]]

_lock = threading.Lock()
_factories: list[SinkFactory] = []


def register_sink_factory(factory: SinkFactory) -> None:
    """Give every tracking service built from now on the sink ``factory`` returns (None: not configured).

    Registering the same factory twice has no effect.
    """
    with _lock:
        if factory not in _factories:
            _factories.append(factory)


def unregister_sink_factory(factory: SinkFactory) -> None:
    """Undo :func:`register_sink_factory` (tests, or a sink turned off at run time)."""
    with _lock:
        if factory in _factories:
            _factories.remove(factory)


def default_sinks() -> list[Sink]:
    """The configured sinks, in registration order."""
    with _lock:
        factories = list(_factories)
    sinks = []
    for factory in factories:
        try:
            sink = factory()
        except Exception as exc:  # noqa: BLE001 - a misconfigured exporter must not stop tracking
            log.warning("sink %s could not be set up and is skipped: %s", getattr(factory, "__name__", factory), exc)
            continue
        if sink is not None:
            sinks.append(sink)
    return sinks


def _alert_sink() -> Optional[Sink]:
    """Alerts (issue 14): an ``AlertSink`` when alerts are configured; imported here, on first use."""
    from airflow_provider_databand_dbt.alerts.sink import alert_sink_factory

    return alert_sink_factory()


register_sink_factory(_alert_sink)


def _alert_delivery_sink() -> Optional[Sink]:
    """Alerts (issue 14): short-lived trackers send the queued alerts after the alert sink queued them.

    Registered after the alert sink (``alerts.sink``), so what that run queued is sent by the same call.
    """
    from airflow_provider_databand_dbt.alerts.delivery_sink import delivery_sink_factory

    return delivery_sink_factory()


register_sink_factory(_alert_delivery_sink)
