"""What our operator and sensor add to the provider's: our hook, our trigger, and tracking a run.

Tracking never changes the dbt outcome: a tracking failure is a warning (unless the user asked
for ``fail_on_tracking_error`` and dbt itself succeeded), and the dbt error is raised afterwards.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, Optional

import msgspec
from airflow.providers.dbt.cloud.triggers.dbt import DbtCloudRunJobTrigger

from airflow_provider_databand_dbt.airflow_compat import AirflowException
from airflow_provider_databand_dbt.hooks.config import run_page_url, web_url_hint
from airflow_provider_databand_dbt.hooks.dbt import DbtCloudTrackingHook, validated_id
from airflow_provider_databand_dbt.hooks.sources import airflow_source, current_source
from airflow_provider_databand_dbt.model.status import NODE_FAILED
from airflow_provider_databand_dbt.triggers.dbt import DbtCloudTrackingRunJobTrigger
from airflow_provider_databand_dbt.utils.links import TRACKING_SUMMARY_KEY

if TYPE_CHECKING:
    from airflow_provider_databand_dbt.model.report import RunReport
    from airflow_provider_databand_dbt.model.source import TrackingSource

MAX_NODE_MESSAGE_CHARS = 300
_PROVIDER_PACKAGE = "airflow.providers.dbt.cloud."


class DbtCloudTrackingError(AirflowException):
    """Tracking a dbt Cloud run failed and the task was told to fail for it (``fail_on_tracking_error``)."""


class TrackingSummary(msgspec.Struct, kw_only=True):
    """The compact ``tracking_summary`` XCom: enough for a downstream task to branch on.

    :param status: the run status (queued, starting, running, success, error, cancelled), or
        ``unknown`` when tracking failed.
    :param node_counts: node results per dbt status, e.g. ``{"success": 7, "error": 1}``.
    :param failed_nodes: unique ids of nodes that ended in error, fail or runtime error.
    :param report_url: the run's page in the tracking web view.
    """

    run_id: int
    account_id: Optional[int] = None
    job_id: Optional[int] = None
    status: str
    tracked: bool
    node_counts: dict[str, int] = {}
    failed_nodes: list[str] = []
    report_url: str
    dbt_cloud_url: Optional[str] = None
    tracking_error: Optional[str] = None

    @classmethod
    def of_report(cls, report: RunReport) -> TrackingSummary:
        return cls(
            run_id=report.run_id,
            account_id=report.account_id,
            job_id=report.job_id,
            status=report.status,
            tracked=True,
            node_counts=report.summary,
            failed_nodes=sorted({node.unique_id for node in report.failed_nodes()}),
            report_url=run_page_url(report.run_id),
            dbt_cloud_url=report.url,
        )


def _one_line(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= MAX_NODE_MESSAGE_CHARS else flat[: MAX_NODE_MESSAGE_CHARS - 3] + "..."


def task_instance(context: Mapping[str, Any] | None) -> Any:
    """The context's task instance, or None: the provider's own code and tests also call with ``{}``."""
    return context.get("ti") if context else None


def _tracking_source(context: Mapping[str, Any] | None) -> TrackingSource:
    return airflow_source(context) if context and task_instance(context) is not None else current_source()


def _push_summary(context: Mapping[str, Any] | None, summary: TrackingSummary) -> None:
    ti = task_instance(context)
    if ti is not None:
        ti.xcom_push(key=TRACKING_SUMMARY_KEY, value=msgspec.to_builtins(summary))


def _provider_module_hook(cls: type) -> Any:
    """What the module of ``cls``'s dbt Cloud provider base calls ``DbtCloudHook`` right now."""
    for klass in cls.__mro__:
        if klass.__module__.startswith(_PROVIDER_PACKAGE):
            return getattr(sys.modules[klass.__module__], "DbtCloudHook", DbtCloudTrackingHook)
    return DbtCloudTrackingHook


class RunTrackingMixin:
    """Mixed into subclasses of the provider's operator and sensor (put it first in the bases).

    Expects the provider's ``dbt_cloud_conn_id``, ``account_id`` and ``hook_params`` attributes and
    our ``fail_on_tracking_error`` and ``tracking_url``.
    """

    dbt_cloud_conn_id: str
    account_id: Any
    hook_params: dict[str, Any]
    fail_on_tracking_error: bool
    tracking_url: str | None
    log: Any

    @cached_property
    def hook(self) -> DbtCloudTrackingHook:
        """Our hook in place of the provider's, so every provider code path gets our URLs and retries.

        Built, as the provider's operator and sensor do, through the ``DbtCloudHook`` name of the
        provider's module: a test double patched there (``mock.patch("airflow.providers.dbt.cloud.
        sensors.dbt.DbtCloudHook")``) or a subclass of ours is used; the provider's own class is not.
        """
        hook_class = _provider_module_hook(type(self))
        if isinstance(hook_class, type) and not issubclass(hook_class, DbtCloudTrackingHook):
            hook_class = DbtCloudTrackingHook
        hook = hook_class(self.dbt_cloud_conn_id, **self.hook_params)
        if isinstance(hook, DbtCloudTrackingHook):  # its requests draw from the budget of the store we track into
            hook.tracking_url = self.tracking_url
        return hook

    def defer(self, *, trigger: Any, method_name: str, kwargs: Any = None, timeout: Any = None):
        # The provider's execute() builds its own trigger; swap it for ours, same arguments.
        if isinstance(trigger, DbtCloudRunJobTrigger) and not isinstance(trigger, DbtCloudTrackingRunJobTrigger):
            trigger = DbtCloudTrackingRunJobTrigger.from_provider_trigger(trigger)
        super().defer(trigger=trigger, method_name=method_name, kwargs=kwargs, timeout=timeout)  # type: ignore[misc]

    def track_run(self, context: Mapping[str, Any] | None, run_id: Any, *, dbt_failed: bool) -> TrackingSummary:
        """Collect and store the run, log its failed nodes and push ``tracking_summary`` to XCom.

        Any exception on the way (collecting, storing, summarizing, pushing) is a tracking error:
        a warning and a summary with ``tracking_error``, never a replacement of dbt's outcome.

        :param context: the task context; without a task instance nothing is pushed to XCom.
        :param run_id: the dbt Cloud run id.
        :param dbt_failed: the task is about to fail because of dbt; a tracking error then never
            replaces the dbt error.
        :raises DbtCloudTrackingError: tracking failed, ``fail_on_tracking_error`` is set and dbt did not fail.
        """
        run_id = validated_id(run_id, "run_id")
        try:
            report = self.hook.collect_run(
                run_id,
                account_id=self.account_id,
                source=_tracking_source(context),
                tracking_url=self.tracking_url,
            )
            summary = TrackingSummary.of_report(report)
            self._log_report(report, summary)
            _push_summary(context, summary)
            return summary
        except Exception as exc:  # noqa: BLE001 - any tracking failure is a warning, never the task's outcome
            return self._tracking_failed(context, run_id, exc, dbt_failed=dbt_failed)

    def _tracking_failed(
        self, context: Mapping[str, Any] | None, run_id: int, exc: Exception, *, dbt_failed: bool
    ) -> TrackingSummary:
        summary = TrackingSummary(
            run_id=run_id,
            account_id=self.account_id if isinstance(self.account_id, int) else None,
            status="unknown",
            tracked=False,
            report_url=run_page_url(run_id),
            tracking_error=str(exc) or type(exc).__name__,
        )
        try:
            _push_summary(context, summary)
        except Exception as push_error:  # noqa: BLE001 - the warning below still tells the tracking error
            self.log.warning("Could not push %s for dbt Cloud run %s: %s", TRACKING_SUMMARY_KEY, run_id, push_error)
        if self.fail_on_tracking_error and not dbt_failed:
            raise DbtCloudTrackingError(f"Could not track dbt Cloud run {run_id}: {exc}") from exc
        self.log.warning(
            "Could not track dbt Cloud run %s (%s: %s). The task outcome is dbt's; set "
            "fail_on_tracking_error=True to fail the task on tracking errors.",
            run_id,
            type(exc).__name__,
            exc,
        )
        return summary

    def _log_report(self, report: RunReport, summary: TrackingSummary) -> None:
        counts = ", ".join(f"{status} {count}" for status, count in sorted(summary.node_counts.items())) or "none"
        self.log.info(
            "Tracked dbt Cloud run %s: %s; nodes: %s; report: %s%s",
            report.run_id,
            report.status,
            counts,
            summary.report_url,
            web_url_hint(),
        )
        for step, node in report.iter_nodes():
            if node.status in NODE_FAILED:
                self.log.error(
                    "dbt node %s %s (step %s): %s", node.unique_id, node.status, step.index, _one_line(node.message)
                )
