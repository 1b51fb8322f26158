"""Trigger a dbt Cloud job, wait for it like the provider does, then track the run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudResourceLookupError
from airflow.providers.dbt.cloud.operators.dbt import DbtCloudRunJobOperator

from airflow_provider_databand_dbt.airflow_compat import AirflowException, TaskDeferred
from airflow_provider_databand_dbt.hooks.dbt import validated_id
from airflow_provider_databand_dbt.operators.reattach import (
    ReattachMixin,
    validate_reattach,
)
from airflow_provider_databand_dbt.utils.links import DbtCloudTrackedRunLink
from airflow_provider_databand_dbt.utils.tracking import RunTrackingMixin

if TYPE_CHECKING:
    from airflow.sdk import Context

_JOB_NAME_FIELDS = ("project_name", "environment_name", "job_name")
# DbtCloudRunJobOperator's message, kept word for word at the start of ours.
_PROVIDER_JOB_ARGUMENTS_MESSAGE = "Either job_id or project_name, environment_name, and job_name must be provided."


class DbtCloudJobArgumentsError(AirflowException, ValueError):
    """The job to run is not given right: a ``ValueError`` as the provider's operator raises, and an
    ``AirflowException`` as the rest of our errors."""


def _given(value: Any) -> bool:
    # Templates render a missing value as an empty string.
    return value is not None and value != ""


class DbtCloudRunAndTrackOperator(ReattachMixin, RunTrackingMixin, DbtCloudRunJobOperator):
    """Run a dbt Cloud job and track the run: status, steps and every node result, in the tracking store.

    Takes every argument of ``DbtCloudRunJobOperator`` (``job_id`` or ``project_name`` +
    ``environment_name`` + ``job_name``, ``steps_override``, ``schema_override``,
    ``additional_run_config``, ``wait_for_termination``, ``check_interval``, ``timeout``,
    ``reuse_existing_run``, ``retry_from_failure``, ``deferrable``, ``hook_params``...) and behaves
    like it: the same XComs (``job_run_id``, ``job_run_url``), the same failures. In addition, once
    the run has ended (success, error, cancelled) or the wait gave up (``timeout``), or right away
    with ``wait_for_termination=False``, the run is collected and stored with this task as its
    source, each failed node is logged on one line, and a ``tracking_summary`` XCom is pushed. The
    task then fails exactly when the provider's operator would.

    In deferrable mode the triggerer only polls; collection happens on the worker when the task
    resumes.

    :param fail_on_tracking_error: fail the task when tracking fails although dbt succeeded. By
        default a tracking failure is logged as a warning; it never hides a dbt failure.
    :param tracking_url: tracking store URL for this task (templated); defaults to
        ``[databand_dbt] tracking_url``, then env ``DATABAND_DBT_TRACKING_URL``.
    """

    # The provider's class attributes are typed as fixed-length tuples: ours are one longer.
    template_fields = (*DbtCloudRunJobOperator.template_fields, "tracking_url")  # type: ignore[assignment]
    operator_extra_links = (*DbtCloudRunJobOperator.operator_extra_links, DbtCloudTrackedRunLink())  # type: ignore[assignment]

    def __init__(
        self,
        *,
        fail_on_tracking_error: bool = False,
        tracking_url: str | None = None,
        reattach: str = "running",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.fail_on_tracking_error = fail_on_tracking_error
        self.tracking_url = tracking_url
        self.reattach = validate_reattach(reattach)

    def _resolve_job_id(self) -> int:
        names = {field: getattr(self, field) for field in _JOB_NAME_FIELDS}
        if _given(self.job_id):
            given_names = [field for field, value in names.items() if _given(value)]
            if given_names:
                raise DbtCloudJobArgumentsError(
                    f"{_PROVIDER_JOB_ARGUMENTS_MESSAGE} Give one of them, not both "
                    f"(got job_id={self.job_id!r} and {', '.join(given_names)})."
                )
            return validated_id(self.job_id, "job_id")
        missing = [field for field, value in names.items() if not _given(value)]
        if missing:
            raise DbtCloudJobArgumentsError(
                f"{_PROVIDER_JOB_ARGUMENTS_MESSAGE} No dbt Cloud job to run (missing: {', '.join(missing)})."
            )
        try:
            return validated_id(super()._resolve_job_id(), "job_id")
        except DbtCloudResourceLookupError as exc:
            raise DbtCloudResourceLookupError(
                f"Cannot find the dbt Cloud job job_name={self.job_name!r} in environment_name="
                f"{self.environment_name!r} of project_name={self.project_name!r}: {exc}"
            ) from None

    def _normalize_account_id(self) -> None:
        self.account_id = validated_id(self.account_id, "account_id") if _given(self.account_id) else None

    def _track_started_run(self, context: Context, *, dbt_failed: bool) -> None:
        if self.run_id is not None:
            self.track_run(context, self.run_id, dbt_failed=dbt_failed)

    def execute(self, context: Context) -> Any:
        self._normalize_account_id()
        with self.recording_try_end():
            try:
                result = super().execute(context)
            except TaskDeferred:
                raise
            except Exception:
                self._track_started_run(context, dbt_failed=True)
                raise
            self._track_started_run(context, dbt_failed=False)
            return result

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> int:
        """Resume after the trigger fired: the provider's outcome handling, with tracking before it raises."""
        self._normalize_account_id()
        self.bind_try(context)
        with self.recording_try_end():
            try:
                result = super().execute_complete(context, event)
            except Exception:
                self._track_started_run(context, dbt_failed=True)
                raise
            self._track_started_run(context, dbt_failed=False)
            return result
