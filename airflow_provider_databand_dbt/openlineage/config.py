"""When the OpenLineage sink is on, and the few settings of ours beside the client's own configuration.

The client decides where events go (``OPENLINEAGE_URL``, ``OPENLINEAGE_CONFIG``, ``openlineage.yml`` in the
working directory or ``~/.openlineage``, ``OPENLINEAGE__TRANSPORT__*``). Without any of these the client
would print every event to the console, so we stay off instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

import msgspec

EXTRA = "openlineage"
CLIENT_MODULE = "openlineage.client"
DEFAULT_NAMESPACE = "default"  # the client's and the Airflow provider's default job namespace
DEFAULT_TIMEOUT_SECONDS = 5.0
TIMEOUT_ENV = "DATABAND_DBT_OPENLINEAGE_TIMEOUT"
DATASET_NAMESPACE_ENV = "DATABAND_DBT_OPENLINEAGE_DATASET_NAMESPACE"
CONFIG_FILE = "openlineage.yml"


class LineageSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What we read besides the client's configuration.

    :param namespace: the job namespace (``OPENLINEAGE_NAMESPACE``, default ``default`` as in the Airflow provider).
    :param timeout: seconds one tracked run may spend emitting (``DATABAND_DBT_OPENLINEAGE_TIMEOUT``, default 5).
    :param dataset_namespace: overrides every dataset namespace (``DATABAND_DBT_OPENLINEAGE_DATASET_NAMESPACE``),
        e.g. ``snowflake://myorg-myaccount``, which dbt artifacts do not tell.
    """

    namespace: str = DEFAULT_NAMESPACE
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    dataset_namespace: Optional[str] = None


def is_disabled(env: Mapping[str, str] = os.environ) -> bool:
    """``OPENLINEAGE_DISABLED=true``, the client's own switch."""
    return env.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true"


def asked_for(env: Mapping[str, str] = os.environ) -> bool:
    """The user named an OpenLineage destination explicitly (so a missing extra deserves a warning)."""
    return bool(env.get("OPENLINEAGE_URL") or env.get("OPENLINEAGE_CONFIG"))


def is_configured(env: Mapping[str, str] = os.environ, cwd: Optional[Path] = None) -> bool:
    """Whether the client would find a transport: an URL, a config file, or ``OPENLINEAGE__TRANSPORT__*``."""
    if asked_for(env) or any(key.startswith("OPENLINEAGE__TRANSPORT") for key in env):
        return True
    home = Path(env.get("HOME") or Path.home())
    candidates = ((cwd or Path.cwd()) / CONFIG_FILE, home / ".openlineage" / CONFIG_FILE)
    return any(path.is_file() for path in candidates)


def settings(env: Mapping[str, str] = os.environ) -> LineageSettings:
    """Our settings from the environment; a bad timeout falls back to the default rather than failing tracking."""
    return LineageSettings(
        namespace=env.get("OPENLINEAGE_NAMESPACE") or DEFAULT_NAMESPACE,
        timeout=_seconds(env.get(TIMEOUT_ENV)),
        dataset_namespace=env.get(DATASET_NAMESPACE_ENV) or None,
    )


def _seconds(value: Optional[str]) -> float:
    try:
        seconds = float(value) if value else DEFAULT_TIMEOUT_SECONDS
    except ValueError:
        return DEFAULT_TIMEOUT_SECONDS
    return seconds if 0 < seconds < 3600 else DEFAULT_TIMEOUT_SECONDS
