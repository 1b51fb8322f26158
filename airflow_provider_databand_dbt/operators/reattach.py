"""Exactly one dbt Cloud run per Airflow task instance, across worker crashes.

Each try records the run it triggered in the tracking store before it waits, and records when it
ends normally (success, dbt failure, timeout, ``on_kill``). The next try of the same task instance
(dag_id, task_id, Airflow run_id, map_index) reads the latest record:

- it ended normally (a retry after a dbt failure, a deliberate clear): trigger a new run, as the
  provider does;
- it did not end (SIGKILL, eviction, lost worker) and its run is queued or running: wait for that
  run instead of triggering a second one;
- it did not end and its run finished meanwhile: track that run and succeed or fail as the first
  try would have;
- it did not end before dbt Cloud answered the trigger: the run carrying that try's token in its
  ``cause`` is adopted as above; when there is none, a new run is triggered.

``reattach="never"`` always triggers (the provider's behaviour); the runs are still recorded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunStatus

from airflow_provider_databand_dbt.airflow_compat import AirflowException, TaskDeferred
from airflow_provider_databand_dbt.hooks.config import airflow_tracking_url
from airflow_provider_databand_dbt.model.status import status_label
from airflow_provider_databand_dbt.operators.trigger_cause import attributed_cause, task_attribution
from airflow_provider_databand_dbt.operators.trigger_token import (
    TriggeredRun,
    find_run_by_token,
    new_token,
    trigger_run,
)

if TYPE_CHECKING:
    from airflow_provider_databand_dbt.tracking.task_runs import (
        TaskInstanceKey,
        TaskTrigger,
        TaskTriggerLedger,
    )

REATTACH_MODES = ("running", "never")


def task_instance_key(context: Mapping[str, Any] | None) -> TaskInstanceKey | None:
    """The task instance of ``context``, or None without a real one (the provider's tests pass mocks)."""
    from airflow_provider_databand_dbt.tracking.task_runs import TaskInstanceKey

    ti = context.get("ti") if context else None
    dag_id, task_id, run_id = (getattr(ti, name, None) for name in ("dag_id", "task_id", "run_id"))
    map_index, try_number = getattr(ti, "map_index", None), getattr(ti, "try_number", None)
    if not (isinstance(dag_id, str) and isinstance(task_id, str) and isinstance(run_id, str)):
        return None
    if not (isinstance(map_index, int) and isinstance(try_number, int)):
        return None
    return TaskInstanceKey(dag_id, task_id, run_id, map_index)


class ReattachMixin:
    """Mixed into ``DbtCloudRunAndTrackOperator`` before the provider's operator.

    Expects the provider's attributes (``hook``, ``account_id``, ``job_id``, ``trigger_reason``,
    overrides, ``retry_from_failure``, ``run_id``) and our ``tracking_url`` and ``reattach``.
    """

    reattach: str
    tracking_url: str | None
    account_id: Any
    job_id: Any
    run_id: Any
    log: Any
    _reattach_ledger: TaskTriggerLedger | None

    def _get_or_trigger_run(self, context: Any) -> tuple[int, str]:
        key = task_instance_key(context)
        if key is None or self.reuse_existing_run:  # type: ignore[attr-defined]
            return super()._get_or_trigger_run(context)  # type: ignore[misc]
        self._reattach_key = key
        try_number = context["ti"].try_number
        ledger = self._ledger()
        previous = self._previous_try(ledger, key)
        run = self._adoptable_run(previous)
        if run is not None and previous is not None:
            self._log_adopted(run, previous, try_number)
            self._record(ledger, key, try_number, previous.token, run.run_id, previous.triggered_by_try)
            return run.run_id, run.url or ""
        token = new_token()
        row_id = self._record(ledger, key, try_number, token, None, None)
        run = self._trigger_with_token(context, token)
        if ledger is not None and row_id is not None:
            try:
                ledger.set_run_id(row_id, run.run_id)
            except Exception as exc:  # noqa: BLE001 - the run exists; a crash now is covered by the token
                self.log.warning("Could not record dbt Cloud run %s in the tracking store: %s", run.run_id, exc)
        if not run.adopted:
            self.log.info("Triggered dbt Cloud run %s (try %s)", run.run_id, try_number)
        return run.run_id, run.url or ""

    # -- the rule --------------------------------------------------------------------------------

    def _previous_try(self, ledger: TaskTriggerLedger | None, key: TaskInstanceKey) -> TaskTrigger | None:
        if ledger is None or self.reattach == "never":
            return None
        try:
            previous = ledger.last(key)
        except Exception as exc:  # noqa: BLE001 - cannot tell: behave as the provider does
            self.log.warning("Could not read earlier tries of this task from the tracking store: %s", exc)
            return None
        return previous if previous is not None and not previous.ended else None

    def _adoptable_run(self, previous: TaskTrigger | None) -> TriggeredRun | None:
        """The unended previous try's run, found by id or by its token; None to trigger a new one."""
        if previous is None:
            return None
        if previous.dbt_run_id is None:
            found = find_run_by_token(self.hook, self.account_id, previous.job_id, previous.token)  # type: ignore[attr-defined]
            if found is None:
                self.log.info(
                    "Try %s of this task died before dbt Cloud answered its trigger and no run of job %s carries "
                    "its token: triggering a new run",
                    previous.try_number,
                    previous.job_id,
                )
            return found
        data = self.hook.get_job_run(run_id=previous.dbt_run_id, account_id=self.account_id).json()["data"]  # type: ignore[attr-defined]
        return TriggeredRun(previous.dbt_run_id, data.get("href"), data.get("status"))

    def _log_adopted(self, run: TriggeredRun, previous: TaskTrigger, try_number: int) -> None:
        if run.status is not None and DbtCloudJobRunStatus.is_terminal(run.status):
            self.log.info(
                "dbt Cloud run %s triggered by try %s finished (%s) while no try watched it: tracking it "
                "instead of triggering a new run (try %s)",
                run.run_id,
                previous.triggered_by_try,
                status_label(run.status),
                try_number,
            )
        else:
            self.log.info(
                "Reattached to dbt Cloud run %s triggered by try %s (try %s did not end; this is try %s)",
                run.run_id,
                previous.triggered_by_try,
                previous.try_number,
                try_number,
            )

    # -- triggering ------------------------------------------------------------------------------

    def _trigger_with_token(self, context: Any, token: str) -> TriggeredRun:
        is_retry = context["ti"].try_number != 1
        hook = self.hook  # type: ignore[attr-defined]

        def post(cause: str) -> Any:
            return hook.trigger_job_run(
                account_id=self.account_id,
                job_id=self.job_id,
                cause=cause,
                steps_override=self.steps_override,  # type: ignore[attr-defined]
                schema_override=self.schema_override,  # type: ignore[attr-defined]
                retry_from_failure=is_retry and self.retry_from_failure,  # type: ignore[attr-defined]
                additional_run_config=self.additional_run_config,  # type: ignore[attr-defined]
            )

        return trigger_run(
            hook,
            post,
            account_id=self.account_id,
            job_id=int(self.job_id),  # type: ignore[attr-defined]
            cause=attributed_cause(self.trigger_reason, task_attribution(context)),  # type: ignore[attr-defined]
            token=token,
            warn=self.log.warning,
        )

    # -- the store -------------------------------------------------------------------------------

    def _ledger(self) -> TaskTriggerLedger | None:
        """The store's record of tries; None when it cannot be opened (the task then runs as the provider's)."""
        from airflow_provider_databand_dbt.tracking.store import TrackingStore
        from airflow_provider_databand_dbt.tracking.task_runs import TaskTriggerLedger

        ledger = getattr(self, "_reattach_ledger", None)
        if ledger is None:
            try:
                ledger = TaskTriggerLedger(TrackingStore(airflow_tracking_url(self.tracking_url)))
            except Exception as exc:  # noqa: BLE001 - dbt first: run without the crash protection
                self.log.warning(
                    "Tracking store unavailable (%s): this try cannot reattach to an earlier try's dbt Cloud run "
                    "and a crash of it cannot be reattached either",
                    exc,
                )
                return None
            self._reattach_ledger = ledger
        return ledger

    def _record(
        self,
        ledger: TaskTriggerLedger | None,
        key: TaskInstanceKey,
        try_number: int,
        token: str,
        dbt_run_id: int | None,
        triggered_by_try: int | None,
    ) -> int | None:
        if ledger is None:
            return None
        hook = self.hook  # type: ignore[attr-defined]
        try:
            return ledger.begin(
                key,
                try_number=try_number,
                host=hook.api_url,
                account_id=self._account_id(),
                job_id=int(self.job_id),
                token=token,
                dbt_run_id=dbt_run_id,
                triggered_by_try=triggered_by_try,
            )
        except Exception as exc:  # noqa: BLE001 - dbt first
            self.log.warning("Could not record this try's dbt Cloud run in the tracking store: %s", exc)
            return None

    def _account_id(self) -> int:
        return int(self.account_id) if self.account_id is not None else self.hook._resolve_account_id()  # type: ignore[attr-defined]

    # -- the end of a try ------------------------------------------------------------------------

    @contextlib.contextmanager
    def recording_try_end(self) -> Iterator[None]:
        """Around ``execute``/``execute_complete``: a deferral is no end; a return or an exception is."""
        try:
            yield
        except TaskDeferred:
            raise
        except BaseException:
            self._end_try("failed")
            raise
        self._end_try("success")

    def _end_try(self, outcome: str) -> None:
        key = getattr(self, "_reattach_key", None)
        if key is None:
            return
        ledger = self._ledger()
        if ledger is None:
            return
        try:
            ledger.end(key, outcome)
        except Exception as exc:  # noqa: BLE001 - never hides the task's outcome
            self.log.warning("Could not record the end of this try in the tracking store: %s", exc)
        finally:
            self._reattach_ledger = None
            ledger.store.close()

    def bind_try(self, context: Any) -> None:
        """Remember the task instance when resuming after a deferral (no trigger on that path)."""
        key = task_instance_key(context)
        if key is not None:
            self._reattach_key = key

    def on_kill(self) -> None:
        self._end_try("killed")
        super().on_kill()  # type: ignore[misc]


def validate_reattach(value: str) -> str:
    if value not in REATTACH_MODES:
        raise AirflowException(f"reattach must be one of {', '.join(REATTACH_MODES)}, not {value!r}")
    return value
