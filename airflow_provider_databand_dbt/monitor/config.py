"""Monitor configuration: ``[dbt_monitor]`` plus one ``[dbt_monitor.syncer.NAME]`` section per dbt Cloud account.

Precedence, highest first: command-line flags > environment (``DBND__DBT_MONITOR__<KEY>``) > the
config file (``--config``, else ``$DATABAND_DBT_CONFIG``, else ``~/.databand_dbt/monitor.cfg``) > defaults.
Everything is validated before anything starts; errors name the file, section and key.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional

from airflow_provider_databand_dbt import config_values as v
from airflow_provider_databand_dbt.collector.collect import DEFAULT_COLLECT_DEADLINE
from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudConfigError
from airflow_provider_databand_dbt.dbt_cloud.tokens import TOKEN_HINT, looks_like_token
from airflow_provider_databand_dbt.dbt_cloud.transport import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_DEADLINE
from airflow_provider_databand_dbt.dbt_cloud.urls import DEFAULT_API_URL, normalize_api_url, validate_token
from airflow_provider_databand_dbt.monitor.config_sources import (
    ENV_PREFIX,
    MonitorConfigError,
    RawSettings,
    RawValue,
    read_config_file,
    read_environment,
    read_flags,
    resolve_config_path,
)
from airflow_provider_databand_dbt.monitor.webhook_config import check_ports, parse_port, resolve_webhook_secret

log = logging.getLogger(__name__)

# dbt Cloud allows 5,000 requests per minute per account; leave room for Airflow and people sharing it.
DEFAULT_MAX_REQUESTS_PER_MINUTE = 3000
DEFAULT_TOKEN_ENV = "DBT_CLOUD_API_TOKEN"
DEFAULT_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 36500  # a century: any longer is "forever" (0), and the cutoff date stays representable

__all__ = [
    "MonitorConfig",
    "MonitorConfigError",
    "SyncerConfig",
    "load_config",
    "MAIN_KEYS",
    "SYNCER_KEYS",
    "SYNCER_DEFAULT_KEYS",
]


@dataclass(frozen=True)
class SyncerConfig:
    """One dbt Cloud account to poll.

    :param name: the syncer name (metric label, cursor key, tracking source name).
    :param token: the API token; never printed (``repr`` hides it).
    :param token_origin: where the token came from, for messages (``env DBT_TOKEN``), never the token.
    :param backfill_seconds: on first start also track finished runs created this long ago; None: none.
    :param request_deadline: wall-clock seconds one request attempt to dbt Cloud may take, download included.
    :param collect_deadline: wall-clock seconds collecting one run may take, all its requests and retries included.
    :param max_response_bytes: largest JSON answer accepted from dbt Cloud, once decompressed.
    :param webhook_secret: the dbt Cloud webhook secret; None: this syncer receives no webhooks (never printed).
    """

    name: str
    account_id: int
    api_url: str
    token: str = field(repr=False)
    token_origin: str = ""
    job_ids: tuple[int, ...] = ()
    project_ids: tuple[int, ...] = ()
    environment_ids: tuple[int, ...] = ()
    runs_page_size: int = 100
    backfill_seconds: Optional[float] = None
    max_requests_per_minute: int = DEFAULT_MAX_REQUESTS_PER_MINUTE
    collect_concurrency: int = 4
    request_deadline: float = DEFAULT_REQUEST_DEADLINE
    collect_deadline: float = DEFAULT_COLLECT_DEADLINE
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    webhook_secret: Optional[str] = field(default=None, repr=False)
    webhook_secret_origin: str = ""


@dataclass(frozen=True)
class MonitorConfig:
    """The whole daemon: loop caps, metrics endpoint, store and syncers.

    :param prometheus_port: serve ``/metrics`` and ``/health`` on this port; 0 disables.
    :param interval: seconds to sleep between two polls of a syncer.
    :param number_of_iterations: stop after this many iterations of every syncer; None: run forever.
    :param stop_after: stop after this many seconds; None: run forever.
    :param lease_seconds: per-syncer lease in the store so only one monitor polls an account; 0 disables.
    :param stop_timeout: seconds a stopping syncer may take to finish its run before it is abandoned.
    :param webhook_port: receive dbt Cloud webhooks on this port; 0 disables.
    :param webhook_host: address the webhook port binds to (default: ``prometheus_host``).
    :param retention_days: prune sent/failed alerts and finished webhook events this old; 0 keeps them forever.
    """

    syncers: tuple[SyncerConfig, ...]
    prometheus_port: int = 8000
    prometheus_host: str = "0.0.0.0"
    interval: float = 30.0
    number_of_iterations: Optional[int] = None
    stop_after: Optional[float] = None
    tracking_url: Optional[str] = field(default=None, repr=False)
    lease_seconds: float = 60.0
    max_backoff: float = 300.0
    stop_timeout: float = 5.0
    log_format: str = "text"
    config_path: Optional[Path] = None
    webhook_port: int = 0
    webhook_host: Optional[str] = None
    retention_days: int = DEFAULT_RETENTION_DAYS


@dataclass(frozen=True)
class KeySpec:
    """A config key: how to parse it and its default (``None`` default + ``required`` for mandatory keys)."""

    parse: Callable[[Any], Any]
    default: Any = None
    required: bool = False
    help: str = ""


# Limits of the dbt Cloud client: valid in a syncer section, and in [dbt_monitor] as the default of every syncer.
SYNCER_DEFAULT_KEYS: dict[str, KeySpec] = {
    "request_deadline": KeySpec(
        v.parse_duration,
        DEFAULT_REQUEST_DEADLINE,
        help="wall-clock seconds for one request attempt, download included, even if data keeps trickling in",
    ),
    "collect_deadline": KeySpec(
        v.parse_duration, DEFAULT_COLLECT_DEADLINE, help="wall-clock seconds for collecting one run, retries included"
    ),
    "max_response_bytes": KeySpec(
        lambda r: v.parse_int(r, minimum=1),
        DEFAULT_MAX_RESPONSE_BYTES,
        help="largest JSON answer accepted from dbt Cloud, once decompressed",
    ),
}

MAIN_KEYS: dict[str, KeySpec] = {
    "prometheus_port": KeySpec(
        lambda r: v.parse_int(r, minimum=0, maximum=65535), 8000, help="metrics + /health port; 0 disables"
    ),
    "prometheus_host": KeySpec(v.parse_str, "0.0.0.0", help="address the metrics port binds to"),
    "interval": KeySpec(v.parse_duration, 30.0, help="seconds between polls of a syncer when idle"),
    "number_of_iterations": KeySpec(lambda r: v.parse_int(r, minimum=1), None, help="stop after N iterations"),
    "stop_after": KeySpec(v.parse_duration, None, help="stop after this many seconds"),
    "tracking_url": KeySpec(v.parse_str, None, help="SQLAlchemy URL of the tracking store"),
    "lease_seconds": KeySpec(lambda r: v.parse_duration(r, allow_zero=True), 60.0, help="syncer lease TTL; 0 disables"),
    "max_backoff": KeySpec(v.parse_duration, 300.0, help="longest wait after repeated failures of a syncer"),
    "stop_timeout": KeySpec(
        lambda r: v.parse_duration(r, allow_zero=True),
        5.0,
        help="on SIGTERM or stop_after, seconds to finish the current run before abandoning a stuck request",
    ),
    "log_format": KeySpec(lambda r: v.parse_choice(r, ("text", "json")), "text", help="text or json"),
    "webhook_port": KeySpec(parse_port, 0, help="receive dbt Cloud webhooks on this port; empty or 0 disables"),
    "webhook_host": KeySpec(v.parse_str, None, help="address the webhook port binds to (default: prometheus_host)"),
    "retention_days": KeySpec(
        lambda r: v.parse_int(r, minimum=0, maximum=MAX_RETENTION_DAYS),
        DEFAULT_RETENTION_DAYS,
        help="days sent/failed alerts and finished webhook events are kept; 0 keeps them forever",
    ),
    **SYNCER_DEFAULT_KEYS,
}

SYNCER_KEYS: dict[str, KeySpec] = {
    "account_id": KeySpec(lambda r: v.parse_int(r, minimum=1), required=True, help="dbt Cloud account id"),
    "api_url": KeySpec(v.parse_str, DEFAULT_API_URL, help="dbt Cloud host or access URL"),
    "api_token_env": KeySpec(v.parse_str, None, help="name of the env var holding the token"),
    "api_token_file": KeySpec(v.parse_str, None, help="file holding the token"),
    "api_token": KeySpec(v.parse_str, None, help="the token itself (discouraged)"),
    "job_ids": KeySpec(v.parse_int_list, (), help="only runs of these jobs"),
    "project_ids": KeySpec(v.parse_int_list, (), help="only runs of these projects"),
    "environment_ids": KeySpec(v.parse_int_list, (), help="only runs of these environments"),
    "runs_page_size": KeySpec(
        lambda r: v.parse_int(r, minimum=1, maximum=100), 100, help="runs per list request (<= 100)"
    ),
    "backfill": KeySpec(v.parse_duration, None, help="on first start, also track finished runs this old (e.g. 7d)"),
    "max_requests_per_minute": KeySpec(
        lambda r: v.parse_int(r, minimum=1), DEFAULT_MAX_REQUESTS_PER_MINUTE, help="request budget for this account"
    ),
    "collect_concurrency": KeySpec(
        lambda r: v.parse_int(r, minimum=1, maximum=16), 4, help="runs collected in parallel during a catch-up"
    ),
    **SYNCER_DEFAULT_KEYS,
    "webhook_secret_env": KeySpec(v.parse_str, None, help="name of the env var holding the webhook secret"),
    "webhook_secret_file": KeySpec(v.parse_str, None, help="file holding the webhook secret"),
    "enabled": KeySpec(v.parse_bool, True, help="false skips this syncer"),
}


def _parse_section(raw: Mapping[str, RawValue], specs: Mapping[str, KeySpec], section_origin: str) -> dict[str, Any]:
    """Typed values for every known key; unknown keys and bad values raise with their origin."""
    for key, given in raw.items():
        if key not in specs:
            raise MonitorConfigError(f"{given.origin}: unknown key {key!r}; known keys: {', '.join(specs)}")
    parsed: dict[str, Any] = {}
    for key, spec in specs.items():
        item = raw.get(key)
        if item is None or v.is_unset(item.value):
            if spec.required:
                origin = item.origin if item else f"{section_origin} {key}"
                raise MonitorConfigError(f"{origin}: required ({spec.help})")
            parsed[key] = spec.default
            continue
        try:
            parsed[key] = spec.parse(item.value)
        except ValueError as exc:
            raise MonitorConfigError(f"{item.origin}: {exc}") from None
    return parsed


def _resolve_token(
    raw: Mapping[str, RawValue], parsed: Mapping[str, Any], section_origin: str, environ: Mapping[str, str]
) -> tuple[str, str]:
    """The token and a description of where it came from; exactly one token key may be set."""
    chosen = [key for key in ("api_token_env", "api_token_file", "api_token") if parsed[key]]
    if len(chosen) > 1:
        raise MonitorConfigError(f"{raw[chosen[1]].origin}: set only one of {', '.join(chosen)}")
    key = chosen[0] if chosen else None
    if key in ("api_token_env", "api_token_file") and looks_like_token(parsed[key]):
        # The token itself was pasted where its variable name or file belongs: never echo it.
        raise MonitorConfigError(f"{raw[key].origin}: {key} takes a name, not the token: {TOKEN_HINT}")
    if key == "api_token":
        log.warning(
            "%s: the API token is written in the configuration; prefer api_token_env or api_token_file", raw[key].origin
        )
        return parsed[key], raw[key].origin
    if key == "api_token_file":
        path = Path(parsed[key]).expanduser()
        try:
            token = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise MonitorConfigError(
                f"{raw[key].origin}: cannot read token file {path}: {exc.__class__.__name__}"
            ) from None
        if not token:
            raise MonitorConfigError(f"{raw[key].origin}: token file {path} is empty")
        return token, f"{raw[key].origin} (file {path})"
    env_name = parsed["api_token_env"] if key else DEFAULT_TOKEN_ENV
    token = environ.get(env_name, "").strip()
    origin = raw[key].origin if key else f"{section_origin} api_token_env"
    if not token:
        hint = "" if key else f" (no api_token_env/api_token_file set, so {DEFAULT_TOKEN_ENV} is used)"
        raise MonitorConfigError(f"{origin}: environment variable {env_name} is not set or empty{hint}")
    return token, f"{origin} (env {env_name})"


def _checked(check: Callable[[str], str], value: str, origin: str) -> str:
    """Run a dbt Cloud input check (URL, token); its messages never echo secrets."""
    try:
        return check(value)
    except DbtCloudConfigError as exc:
        raise MonitorConfigError(f"{origin}: {exc}") from None


def _build_syncer(
    name: str,
    raw: Mapping[str, RawValue],
    section_origin: str,
    environ: Mapping[str, str],
    defaults: Mapping[str, Any],
) -> Optional[SyncerConfig]:
    """One syncer's config; ``defaults`` are the ``[dbt_monitor]`` values of :data:`SYNCER_DEFAULT_KEYS`."""
    specs = {
        key: replace(spec, default=defaults[key]) if key in defaults else spec for key, spec in SYNCER_KEYS.items()
    }
    parsed = _parse_section(raw, specs, section_origin)
    if not parsed["enabled"]:
        return None
    token, token_origin = _resolve_token(raw, parsed, section_origin, environ)
    webhook_secret, webhook_secret_origin = resolve_webhook_secret(raw, parsed, environ)
    url_origin = raw["api_url"].origin if "api_url" in raw else f"{section_origin} api_url"
    return SyncerConfig(
        name=name,
        account_id=parsed["account_id"],
        api_url=_checked(normalize_api_url, parsed["api_url"], url_origin),
        token=_checked(validate_token, token, token_origin),
        token_origin=token_origin,
        job_ids=parsed["job_ids"],
        project_ids=parsed["project_ids"],
        environment_ids=parsed["environment_ids"],
        runs_page_size=parsed["runs_page_size"],
        backfill_seconds=parsed["backfill"],
        max_requests_per_minute=parsed["max_requests_per_minute"],
        collect_concurrency=parsed["collect_concurrency"],
        webhook_secret=webhook_secret,
        webhook_secret_origin=webhook_secret_origin,
        **{key: parsed[key] for key in SYNCER_DEFAULT_KEYS},
    )


def load_config(
    config: Optional[str] = None,
    *,
    flags: Optional[Mapping[str, Any]] = None,
    only_syncers: Optional[list[str]] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> MonitorConfig:
    """Read, merge and validate the monitor configuration; raises :class:`MonitorConfigError`.

    :param config: the ``--config`` path; None: ``$DATABAND_DBT_CONFIG`` or ``~/.databand_dbt/monitor.cfg``.
    :param flags: main-section keys from the command line (None values are ignored).
    :param only_syncers: run just these syncers (``--syncer``).
    :param environ: the environment (default ``os.environ``).
    """
    environ = os.environ if environ is None else environ
    path: Path | None
    path, chosen = resolve_config_path(config, environ)
    settings = RawSettings()
    if chosen or path.exists():
        settings.merge(read_config_file(path))
    else:
        path = None
    settings.merge(read_environment(environ))
    settings.merge(read_flags(flags or {}))

    main = _parse_section(settings.main, MAIN_KEYS, f"{path or 'config'} [dbt_monitor]")
    defaults = {key: main.pop(key) for key in SYNCER_DEFAULT_KEYS}
    main["webhook_host"] = main["webhook_host"] or main["prometheus_host"]
    check_ports(main["prometheus_port"], main["webhook_port"], f"{path or 'config'} [dbt_monitor]")
    if not settings.syncers:
        where = (
            f"{path}" if path else "no config file found (looked at $DATABAND_DBT_CONFIG, ~/.databand_dbt/monitor.cfg)"
        )
        raise MonitorConfigError(
            f"{where}: no syncer configured; add a [dbt_monitor.syncer.NAME] section with account_id, "
            f"or set {ENV_PREFIX}SYNCER__NAME__ACCOUNT_ID"
        )
    names = list(settings.syncers)
    for name in only_syncers or ():
        if name not in settings.syncers:
            raise MonitorConfigError(f"--syncer {name}: no such syncer; configured: {', '.join(names)}")
    syncers = []
    for name in names:
        if only_syncers and name not in only_syncers:
            continue
        syncer = _build_syncer(name, settings.syncers[name], settings.syncer_origins[name], environ, defaults)
        if syncer is not None:
            syncers.append(syncer)
    if not syncers:
        raise MonitorConfigError(f"{path or 'config'}: every syncer is disabled (enabled = false)")
    return MonitorConfig(syncers=tuple(syncers), config_path=path, **main)
