"""The dbt Cloud runs triggered per Airflow task instance try, so a crashed try is reattached, not re-triggered.

Revision ID: r0005
Revises: r0004
"""

from __future__ import annotations

from alembic import op

from airflow_provider_databand_dbt.tracking.migrations_task_triggers import upgrade_task_triggers

revision = "r0005"
down_revision = "r0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_task_triggers(op.get_bind())
