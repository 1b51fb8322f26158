"""Wait for a dbt Cloud run in the triggerer, through :class:`DbtCloudTrackingHook`.

The provider's ``DbtCloudRunJobTrigger`` builds a plain ``DbtCloudHook`` inside ``run()``, so it
can reach neither a scheme-carrying Host nor our retries; this subclass keeps its arguments and
events (``success``, ``error``, ``cancelled``, ``timeout``) and polls with our hook. It never
collects: collection happens on the worker, in the task's ``execute_complete``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunStatus
from airflow.providers.dbt.cloud.triggers.dbt import DbtCloudRunJobTrigger

from airflow_provider_databand_dbt.airflow_compat import TriggerEvent
from airflow_provider_databand_dbt.hooks.dbt import DbtCloudTrackingHook

CLASSPATH = "airflow_provider_databand_dbt.triggers.dbt.DbtCloudTrackingRunJobTrigger"

# status code -> (event status, message suffix), the provider trigger's event contract.
_TERMINAL_EVENTS = {
    DbtCloudJobRunStatus.SUCCESS.value: ("success", "has completed successfully."),
    DbtCloudJobRunStatus.ERROR.value: ("error", "has failed."),
    DbtCloudJobRunStatus.CANCELLED.value: ("cancelled", "has been cancelled."),
}


class DbtCloudTrackingRunJobTrigger(DbtCloudRunJobTrigger):
    """Poll a dbt Cloud run until it ends, the wait times out or the task's deadline passes.

    Arguments are those of ``DbtCloudRunJobTrigger``: ``conn_id``, ``run_id``, ``end_time``
    (absolute epoch seconds to stop waiting), ``poll_interval``, ``account_id``, ``hook_params``
    (JSON-serializable ``DbtCloudTrackingHook`` arguments) and ``execution_deadline``.
    Rate limits and server errors that outlast the hook's retries are logged and polled again
    until ``end_time``, instead of failing a run that is still going.
    """

    @classmethod
    def from_provider_trigger(cls, trigger: DbtCloudRunJobTrigger) -> DbtCloudTrackingRunJobTrigger:
        """The same wait, done by our hook: used when the provider's operator code defers."""
        _, kwargs = trigger.serialize()
        return cls(**kwargs)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        _, kwargs = super().serialize()
        return CLASSPATH, kwargs

    def _make_hook(self) -> DbtCloudTrackingHook:
        return DbtCloudTrackingHook(self.conn_id, **self.hook_params)

    def _event(self, status: str, message: str) -> TriggerEvent:
        return TriggerEvent({"status": status, "message": f"Job run {self.run_id} {message}", "run_id": self.run_id})

    def _deadline_event(self, now: float) -> TriggerEvent | None:
        if self.execution_deadline is not None and self.execution_deadline <= now:
            return self._event("timeout", "has timed out.")
        if self.end_time <= now:
            return self._event("error", "has not reached a terminal status within the configured timeout.")
        return None

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll every ``poll_interval`` seconds and yield exactly one event."""
        hook = self._make_hook()
        while True:
            now = time.time()
            try:
                status = await hook.get_job_status(self.run_id, self.account_id)
            except Exception as exc:
                if not hook._retryable_error(exc):
                    yield TriggerEvent({"status": "error", "message": str(exc), "run_id": self.run_id})
                    return
                self.log.warning("Polling dbt Cloud run %s failed, polling again: %s", self.run_id, exc)
                status = None
            if status in _TERMINAL_EVENTS:
                event_status, message = _TERMINAL_EVENTS[status]
                yield self._event(event_status, message)
                return
            deadline_event = self._deadline_event(now)
            if deadline_event is not None:
                yield deadline_event
                return
            await asyncio.sleep(self.poll_interval)
