"""Wait for an existing dbt Cloud run like the provider's sensor, then track it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunException
from airflow.providers.dbt.cloud.sensors.dbt import DbtCloudJobRunSensor

from airflow_provider_databand_dbt.airflow_compat import AirflowSensorTimeout
from airflow_provider_databand_dbt.hooks.dbt import validated_id
from airflow_provider_databand_dbt.utils.links import (
    JOB_RUN_ID_KEY,
    DbtCloudTrackedRunLink,
)
from airflow_provider_databand_dbt.utils.tracking import (
    RunTrackingMixin,
    task_instance,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


class DbtCloudRunAndTrackSensor(RunTrackingMixin, DbtCloudJobRunSensor):
    """Wait for a dbt Cloud run to end, then track it (status, steps, node results) in the tracking store.

    Takes every argument of ``DbtCloudJobRunSensor`` (``run_id``, ``account_id``, ``deferrable``,
    ``hook_params``) and of sensors (``mode="poke"`` or ``"reschedule"``, ``poke_interval``,
    ``timeout``...) and fails when it would. The run is tracked once it succeeds, errors or is
    cancelled, and when the sensor times out (its current state); this task is recorded as a
    source, failed nodes are logged one per line and a ``tracking_summary`` XCom is pushed (and
    ``job_run_id``, as the provider's operator does, for the extra link).
    Tracking a run an operator already tracked updates the same run and adds a second source.

    :param fail_on_tracking_error: fail the task when tracking fails although dbt succeeded.
    :param tracking_url: tracking store URL for this task (templated).
    """

    # The provider's class attributes are typed as fixed-length tuples: ours are one longer.
    template_fields = (*DbtCloudJobRunSensor.template_fields, "tracking_url")  # type: ignore[assignment]
    operator_extra_links = (DbtCloudTrackedRunLink(),)

    def __init__(self, *, fail_on_tracking_error: bool = False, tracking_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fail_on_tracking_error = fail_on_tracking_error
        self.tracking_url = tracking_url

    def _normalize_ids(self) -> None:
        # Templates render ids as strings ("{{ ti.xcom_pull(...) }}"); check them once, by name.
        self.run_id = validated_id(self.run_id, "run_id")
        self.account_id = validated_id(self.account_id, "account_id") if self.account_id not in (None, "") else None

    def poke(self, context: Context) -> bool:
        try:
            finished = super().poke(context)
        except DbtCloudJobRunException:
            self.track_run(context, self.run_id, dbt_failed=True)
            raise
        if finished:
            self.track_run(context, self.run_id, dbt_failed=False)
        return finished

    def execute(self, context: Context) -> Any:
        self._normalize_ids()
        # Same key as the provider's operator, so the extra link finds the run while we wait.
        ti = task_instance(context)
        if ti is not None:
            ti.xcom_push(key=JOB_RUN_ID_KEY, value=self.run_id)
        try:
            return super().execute(context)
        except AirflowSensorTimeout:
            self.track_run(context, self.run_id, dbt_failed=True)
            raise

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> int:
        """Resume after the trigger fired: the provider's outcome handling, with tracking before it raises."""
        self._normalize_ids()
        try:
            result = super().execute_complete(context, event)
        except DbtCloudJobRunException:
            self.track_run(context, self.run_id, dbt_failed=True)
            raise
        self.track_run(context, self.run_id, dbt_failed=False)
        return result
