"""Our sensor in ``reschedule`` mode waiting for a run our operator triggered without waiting.

(``example_dbt_cloud_trigger_then_sense`` triggers with the provider's own operator, which cannot
reach an ``http://`` Host such as the emulator's; the e2e tests run it through a TLS proxy.)

The pokes are 15 s apart, not 1 s: every poke of one try has the same task instance key, and the
executor's event for a poke can reach the scheduler seconds after the poke ended (Airflow 3's task
supervisor notices its child's exit within ``[workers] min_heartbeat_interval``, 5 s). When the next
poke is already queued or running by then, the scheduler takes that late event for the new poke's
end and fails the task ("finished with state success, but the task instance's state attribute is
queued", apache/airflow#71172, unfixed in 3.3; the same race exists on Airflow 2).
"""

from __future__ import annotations

from datetime import datetime

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_databand_dbt.operators import DbtCloudRunAndTrackOperator
from airflow_provider_databand_dbt.sensors import DbtCloudRunAndTrackSensor

RESCHEDULE_POKE_SECONDS = 15

with DAG(dag_id="e2e_dbt_cloud_reschedule_sensor", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    trigger = DbtCloudRunAndTrackOperator(task_id="trigger_job", job_id=101, wait_for_termination=False)
    DbtCloudRunAndTrackSensor(
        task_id="wait_and_track",
        run_id=trigger.output,
        mode="reschedule",
        poke_interval=RESCHEDULE_POKE_SECONDS,
        timeout=120,
    )
