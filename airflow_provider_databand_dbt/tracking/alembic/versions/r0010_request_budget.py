"""One request budget per dbt Cloud account, shared by every process that tracks into the store.

Revision ID: r0010
Revises: r0009
"""

from __future__ import annotations

from alembic import op

from airflow_provider_databand_dbt.tracking.migrations_request_budget import upgrade_request_budget

revision = "r0010"
down_revision = "r0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_request_budget(op.get_bind())
