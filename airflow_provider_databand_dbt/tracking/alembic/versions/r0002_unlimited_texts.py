"""Legacy version 2: texts without length limits, 64-bit failures, run notes, a step's failed re-read.

Revision ID: r0002
Revises: r0001
"""

from __future__ import annotations

from alembic import op

from airflow_provider_databand_dbt.tracking.migrations_v2 import upgrade_to_v2

revision = "r0002"
down_revision = "r0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_to_v2(op.get_bind())
