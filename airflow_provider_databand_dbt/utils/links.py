"""Extra link from a task to the tracked run's page in the tracking web view."""

from __future__ import annotations

from typing import Any

from airflow_provider_databand_dbt.airflow_compat import BaseOperatorLink, XCom
from airflow_provider_databand_dbt.hooks.config import run_page_url

TRACKING_SUMMARY_KEY = "tracking_summary"
JOB_RUN_ID_KEY = "job_run_id"  # the provider operator's XCom key


class DbtCloudTrackedRunLink(BaseOperatorLink):
    """Opens ``<[databand_dbt] web_url>/runs/<run_id>``, next to the provider's "Monitor Job Run"."""

    name = "Tracked dbt Cloud Run"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        # Both our operator and our sensor push the run id first thing, so the link works while the
        # run is still going (a deferred task), before any tracking summary exists.
        run_id = XCom.get_value(key=JOB_RUN_ID_KEY, ti_key=ti_key)
        return run_page_url(run_id) if run_id else ""
