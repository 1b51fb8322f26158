"""Our sensor in ``reschedule`` mode waiting for a run our operator triggered without waiting.

(``example_dbt_cloud_trigger_then_sense`` triggers with the provider's own operator, which cannot
reach an ``http://`` Host such as the emulator's; the e2e tests run it through a TLS proxy.)
"""

from __future__ import annotations

from datetime import datetime

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_databand_dbt.operators import DbtCloudRunAndTrackOperator
from airflow_provider_databand_dbt.sensors import DbtCloudRunAndTrackSensor

with DAG(dag_id="e2e_dbt_cloud_reschedule_sensor", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    trigger = DbtCloudRunAndTrackOperator(task_id="trigger_job", job_id=101, wait_for_termination=False)
    DbtCloudRunAndTrackSensor(
        task_id="wait_and_track",
        run_id=trigger.output,
        mode="reschedule",
        poke_interval=1,
        timeout=120,
    )
