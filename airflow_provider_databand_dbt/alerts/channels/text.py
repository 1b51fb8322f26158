"""The words of a notification, shared by every channel: headline, facts, skipped nodes and links.

Channels differ only in markup (Block Kit, Adaptive Card, e-mail); what they say is decided here once.
"""

from __future__ import annotations

from airflow_provider_databand_dbt.alerts.notification import AlertNotification

RULE_LABELS = {
    "run_failed": "Run failed or cancelled",
    "new_failure": "New failure",
    "duration_regression": "Duration regression",
    "source_freshness": "Source freshness",
    "row_count_anomaly": "Row count anomaly",
}
CHANGE_LABELS = {"opened": "new incident", "updated": "still failing", "resolved": "recovered"}
ICONS = {"error": "\U0001f534", "warning": "\U0001f7e0", "info": "\U0001f535", "resolved": "\u2705"}
MAX_SKIPPED_LISTED = 10
MAX_MESSAGE_CHARS = 2500


def headline(notification: AlertNotification) -> str:
    """``<icon> <title>``, the icon saying the severity or the recovery."""
    icon = ICONS["resolved"] if notification.change == "resolved" else ICONS.get(notification.severity, "")
    prefix = "Recovered: " if notification.change == "resolved" and "recover" not in notification.title.lower() else ""
    return f"{icon} {prefix}{notification.title}".strip()


def pipeline_label(notification: AlertNotification) -> str:
    pipeline = notification.pipeline
    name = pipeline.job_name or f"job {pipeline.job_id}"
    where = " / ".join(part for part in (pipeline.project_name, pipeline.environment_name) if part)
    return f"{name} (job {pipeline.job_id}{', ' + where if where else ''})"


def facts(notification: AlertNotification) -> list[tuple[str, str]]:
    """Label/value pairs: pipeline, run, node, rule, severity, change, time."""
    rows = [
        ("Pipeline", pipeline_label(notification)),
        ("Run", f"{notification.run_id} on {notification.pipeline.host}"),
    ]
    if notification.node_unique_id:
        kind = f" ({notification.resource_type})" if notification.resource_type else ""
        rows.append(("Node", f"{notification.node_name or notification.node_unique_id}{kind}"))
    rows += [
        ("Rule", RULE_LABELS.get(notification.rule, notification.rule)),
        ("Severity", notification.severity),
        ("Incident", f"#{notification.incident_id}, {CHANGE_LABELS.get(notification.change, notification.change)}"),
        ("When", notification.occurred_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()),
    ]
    return rows


def error_message(notification: AlertNotification) -> str:
    """The error message (dbt's), cut to a length every channel accepts; empty when there is none."""
    message = (notification.message or "").strip()
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 1] + "\u2026"


def skipped_summary(notification: AlertNotification) -> str:
    """``3 nodes skipped downstream: a, b, c`` (the first few listed); empty when none were."""
    skipped = notification.skipped_downstream
    if not skipped:
        return ""
    names = [unique_id.rsplit(".", 1)[-1] for unique_id in skipped[:MAX_SKIPPED_LISTED]]
    more = f" and {len(skipped) - len(names)} more" if len(skipped) > len(names) else ""
    noun = "node" if len(skipped) == 1 else "nodes"
    return f"{len(skipped)} {noun} skipped downstream: {', '.join(names)}{more}"


def links(notification: AlertNotification) -> list[tuple[str, str]]:
    """(label, URL) of the run page in the web view and in dbt Cloud, those that are known."""
    found = []
    if notification.run_page_url:
        found.append(("Run page", notification.run_page_url))
    if notification.dbt_cloud_url:
        found.append(("Open in dbt Cloud", notification.dbt_cloud_url))
    return found


def plain_text(notification: AlertNotification) -> str:
    """The whole notification as plain text (e-mail body, fallbacks)."""
    lines = [headline(notification), ""]
    lines += [f"{label}: {value}" for label, value in facts(notification)]
    message = error_message(notification)
    if message:
        lines += ["", "Error:", message]
    skipped = skipped_summary(notification)
    if skipped:
        lines += ["", skipped]
    if links(notification):
        lines.append("")
        lines += [f"{label}: {url}" for label, url in links(notification)]
    return "\n".join(lines) + "\n"
