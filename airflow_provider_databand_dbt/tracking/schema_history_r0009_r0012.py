"""The queue and alert tables as revisions r0009 to r0012 created them, frozen (see ``schema_history``).

``schema.py`` describes head: a revision building its table from there would create whatever a later edit
adds. Each function adds its table(s) to ``metadata`` and returns them; tables referred to by a foreign key
get a stand-in (their ``id`` only) unless ``metadata`` already holds them, and are never created by a revision.
"""

from __future__ import annotations

import sqlalchemy as sa

from airflow_provider_databand_dbt.tracking.schema import PREFIX, Timestamp


def webhook_events_r0009(metadata: sa.MetaData) -> sa.Table:
    """The durable queue of dbt Cloud webhook deliveries (and its index), as revision r0009 created it."""
    return sa.Table(
        f"{PREFIX}webhook_event",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("syncer", sa.String(255), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("account_id", sa.BigInteger, nullable=False),
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("received_at", Timestamp, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("available_at", Timestamp, nullable=False),
        sa.Column("claimed_by", sa.String(255)),
        sa.Column("claimed_until", Timestamp),
        sa.Column("processed_at", Timestamp),
        sa.Column("last_error", sa.Text),
        sa.UniqueConstraint("syncer", "event_id", name=f"uq_{PREFIX}webhook_event_key"),
        sa.Index(f"ix_{PREFIX}webhook_event_state", "state", "available_at"),
    )


def request_budgets_r0010(metadata: sa.MetaData) -> sa.Table:
    """The request budget per dbt Cloud account, as revision r0010 created it."""
    return sa.Table(
        f"{PREFIX}request_budget",
        metadata,
        sa.Column("host", sa.String(255), primary_key=True),
        sa.Column("account_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("requests_per_minute", sa.Float),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("blocked_until", sa.Float),
        sa.Column("set_by", sa.String(255)),
        sa.Column("blocked_by", sa.String(255)),
    )


def alert_tables_r0011(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """``(alert_incident, alert_evaluation)`` as revision r0011 created them (they refer to pipeline and node)."""
    _stand_in(metadata, f"{PREFIX}pipeline")
    _stand_in(metadata, f"{PREFIX}node")
    incidents = sa.Table(
        f"{PREFIX}alert_incident",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("pipeline_id", sa.Integer, sa.ForeignKey(f"{PREFIX}pipeline.id", ondelete="CASCADE"), nullable=False),
        sa.Column("node_id", sa.Integer, sa.ForeignKey(f"{PREFIX}node.id", ondelete="CASCADE")),
        sa.Column("node_unique_id", sa.String(1024)),
        sa.Column("node_name", sa.Text),
        sa.Column("resource_type", sa.String(64)),
        sa.Column("open_key", sa.String(96)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("first_run_id", sa.BigInteger, nullable=False),
        sa.Column("last_run_id", sa.BigInteger, nullable=False),
        sa.Column("resolved_run_id", sa.BigInteger),
        sa.Column("occurrences", sa.Integer, nullable=False),
        sa.Column("opened_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("resolved_at", Timestamp),
        sa.UniqueConstraint("open_key", name=f"uq_{PREFIX}alert_incident_open"),
        sa.Index(f"ix_{PREFIX}alert_incident_updated", "updated_at", "id"),
        sa.Index(f"ix_{PREFIX}alert_incident_pipeline", "pipeline_id", "updated_at"),
        sa.Index(f"ix_{PREFIX}alert_incident_node", "node_unique_id", "updated_at"),
    )
    evaluations = sa.Table(
        f"{PREFIX}alert_evaluation",
        metadata,
        sa.Column(
            "pipeline_id", sa.Integer, sa.ForeignKey(f"{PREFIX}pipeline.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("run_pk", sa.Integer, nullable=False),
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("run_created_at", Timestamp),
        sa.Column("evaluated_at", Timestamp, nullable=False),
    )
    return incidents, evaluations


def alert_outbox_r0012(metadata: sa.MetaData) -> sa.Table:
    """The alert outbox (and its indexes), as revision r0012 created it."""
    return sa.Table(
        f"{PREFIX}alert_outbox",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("notification_key", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("incident_id", sa.BigInteger),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("next_attempt_at", Timestamp, nullable=False),
        sa.Column("claimed_by", sa.String(255)),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("sent_at", Timestamp),
        sa.UniqueConstraint("notification_key", "channel", name=f"uq_{PREFIX}alert_outbox_key"),
        sa.Index(f"ix_{PREFIX}alert_outbox_due", "state", "next_attempt_at"),
        sa.Index(f"ix_{PREFIX}alert_outbox_incident", "incident_id", "channel"),
    )


def _stand_in(metadata: sa.MetaData, name: str) -> None:
    """A table referred to by a foreign key, so its DDL can name it; the revisions never create it."""
    if name not in metadata.tables:
        sa.Table(name, metadata, sa.Column("id", sa.Integer, primary_key=True))
