"""A made-up notification for ``databand-dbt alerts test``: every field filled, so each part of a message shows."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Optional

from airflow_provider_databand_dbt.alerts.notification import AlertNotification, PipelineRef


def sample_notification(web_base_url: Optional[str] = None) -> AlertNotification:
    """A "new failure" of a model with two nodes skipped downstream; its key is new each time."""
    run_id = 70403103
    return AlertNotification(
        key=f"test:{uuid.uuid4().hex}",
        incident_id=0,
        rule="new_failure",
        change="opened",
        severity="error",
        pipeline=PipelineRef(
            host="cloud.getdbt.com",
            account_id=1,
            job_id=42,
            job_name="nightly (test alert)",
            project_name="jaffle_shop",
            environment_name="production",
        ),
        run_id=run_id,
        title="Test alert from databand-dbt: model fct_orders failed",
        occurred_at=datetime.now(timezone.utc),
        node_unique_id="model.jaffle_shop.fct_orders",
        node_name="fct_orders",
        resource_type="model",
        message='Database Error in model fct_orders\n  column "amount_usd" does not exist',
        skipped_downstream=("model.jaffle_shop.orders_daily", "test.jaffle_shop.not_null_fct_orders_order_id"),
        run_page_url=f"{web_base_url}/runs/{run_id}" if web_base_url else None,
        dbt_cloud_url=f"https://cloud.getdbt.com/deploy/1/projects/1/runs/{run_id}",
    )
