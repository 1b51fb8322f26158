"""Webhook settings: ``[dbt_monitor] webhook_port/webhook_host`` and each syncer's secret.

A syncer receives webhooks only when it has ``webhook_secret_env`` or ``webhook_secret_file`` (the
secret dbt Cloud shows when the webhook is created); its route answers 404 otherwise. A variable that
is unset or a file that is missing or empty stops the monitor at start with a message naming the
variable or file, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

from airflow_provider_databand_dbt import config_values as v
from airflow_provider_databand_dbt.monitor.config_sources import MonitorConfigError, RawValue

SECRET_KEYS = ("webhook_secret_env", "webhook_secret_file")
# A dbt Cloud webhook secret is a long random string; a short one is a name pasted into the wrong key.
MIN_SECRET_LENGTH = 8


def parse_port(raw: Any) -> int:
    return v.parse_int(raw, minimum=0, maximum=65535)


def resolve_webhook_secret(
    raw: Mapping[str, RawValue], parsed: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[Optional[str], str]:
    """The syncer's webhook secret and where it came from (for messages), or ``(None, "")`` when it has none.

    :raises MonitorConfigError: both keys set, the variable unset or empty, the file unreadable or empty.
    """
    chosen = [key for key in SECRET_KEYS if parsed.get(key)]
    if len(chosen) > 1:
        raise MonitorConfigError(f"{raw[chosen[1]].origin}: set only one of {', '.join(SECRET_KEYS)}")
    if not chosen:
        return None, ""
    key = chosen[0]
    origin = raw[key].origin
    if key == "webhook_secret_env":
        name = parsed[key]
        secret = environ.get(name, "").strip()
        if not secret:
            raise MonitorConfigError(f"{origin}: environment variable {name} is not set or empty")
        where = f"{origin} (env {name})"
    else:
        path = Path(parsed[key]).expanduser()
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise MonitorConfigError(
                f"{origin}: cannot read webhook secret file {path}: {exc.__class__.__name__}"
            ) from None
        if not secret:
            raise MonitorConfigError(f"{origin}: webhook secret file {path} is empty")
        where = f"{origin} (file {path})"
    if len(secret) < MIN_SECRET_LENGTH:
        raise MonitorConfigError(
            f"{where}: the webhook secret is shorter than {MIN_SECRET_LENGTH} characters; "
            "use the secret dbt Cloud shows when the webhook is created"
        )
    return secret, where


def check_ports(prometheus_port: int, webhook_port: int, origin: str) -> None:
    """Webhooks get their own port (exposed through an ingress), never the metrics one."""
    if webhook_port and webhook_port == prometheus_port:
        raise MonitorConfigError(
            f"{origin}: webhook_port {webhook_port} is also prometheus_port; give webhooks their own port"
        )
