"""``databand-dbt monitor``: the long-running daemon that tracks every run of one or more dbt Cloud accounts."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from airflow_provider_databand_dbt.cli import options
from airflow_provider_databand_dbt.extras import require_extra

log = logging.getLogger(__name__)

EPILOG = """\
configuration precedence (highest first):
  1. these flags
  2. environment: DBND__DBT_MONITOR__<KEY> (e.g. DBND__DBT_MONITOR__INTERVAL=60) and
     DBND__DBT_MONITOR__SYNCER__<NAME>__<KEY> (e.g. DBND__DBT_MONITOR__SYNCER__PROD__ACCOUNT_ID=1)
  3. the config file: --config, else $DATABAND_DBT_CONFIG, else ~/.databand_dbt/monitor.cfg
     (INI, or TOML when the name ends in .toml): [dbt_monitor] and one [dbt_monitor.syncer.NAME] per account
  4. defaults
exit codes: 0 stopped (caps reached, SIGTERM/SIGINT), 1 the last iteration of a syncer failed,
  2 bad configuration (nothing was started).
"""

STORE_PRECEDENCE = (
    "SQLAlchemy URL of the tracking store. Precedence: this flag, $DBND__DBT_MONITOR__TRACKING_URL, tracking_url "
    "in [dbt_monitor] of the config file, then $DATABAND_DBT_TRACKING_URL, $AIRFLOW__DATABAND_DBT__TRACKING_URL, "
    "$AIRFLOW_HOME/databand_dbt/tracking.db when AIRFLOW_HOME is set, else ~/.databand_dbt/tracking.db"
)

# Main-section keys that have a flag; values are parsed by the same rules as the file and env.
FLAG_KEYS = (
    ("prometheus_port", "PORT", "serve /metrics and /health on this port; 0 disables (default 8000)"),
    ("prometheus_host", "ADDR", "address for the metrics port (default 0.0.0.0)"),
    ("webhook_port", "PORT", "receive dbt Cloud webhooks on this port; 0 disables (default: disabled)"),
    ("webhook_host", "ADDR", "address for the webhook port (default: the prometheus host)"),
    ("interval", "SECONDS", "sleep between two polls of a syncer, e.g. 30 or 1m (default 30)"),
    ("number_of_iterations", "N", "stop after N iterations of every syncer (default: no limit)"),
    ("stop_after", "SECONDS", "stop after this long, e.g. 3600 or 1h (default: no limit)"),
    ("lease_seconds", "SECONDS", "lease per syncer so only one monitor polls an account; 0 disables (default 60)"),
    ("max_backoff", "SECONDS", "longest wait after repeated failures of a syncer (default 300)"),
    ("stop_timeout", "SECONDS", "after SIGTERM or stop_after, abandon a syncer still busy this long (default 5)"),
    ("log_format", "FORMAT", "text or json (one JSON object per line)"),
    (
        "retention_days",
        "DAYS",
        "delete sent/failed alert notifications and finished webhook events this many days after they "
        "finished; 0 keeps them forever (default 30)",
    ),
    (
        "request_deadline",
        "SECONDS",
        (
            "default of every syncer: give up on one request to dbt Cloud after this long, download included, "
            "even if data keeps trickling in (default 600; a syncer's own key wins)"
        ),
    ),
    (
        "collect_deadline",
        "SECONDS",
        (
            "default of every syncer: give up on collecting one run after this long, retries included "
            "(default 1800; a syncer's own key wins)"
        ),
    ),
    (
        "max_response_bytes",
        "BYTES",
        (
            "default of every syncer: largest JSON answer accepted from dbt Cloud, once decompressed "
            "(default 33554432, 32 MiB; a syncer's own key wins)"
        ),
    ),
    ("tracking_url", "URL", STORE_PRECEDENCE),
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "monitor",
        help="poll dbt Cloud accounts and track every run (scheduled, API, Airflow, manual)",
        description="Poll one or more dbt Cloud accounts and store every run, its steps and node results "
        "in the tracking store. Runs tracked by Airflow too end up as one run with two sources.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="INI or TOML config file (default: $DATABAND_DBT_CONFIG, then ~/.databand_dbt/monitor.cfg)",
    )
    for key, metavar, help_text in FLAG_KEYS:
        action = parser.add_argument(f"--{key.replace('_', '-')}", dest=key, metavar=metavar, help=help_text)
        if key == "tracking_url":
            action.help = f"{STORE_PRECEDENCE}. Without them now: %(store)s"
            options.with_store_in_use(action)
    parser.add_argument(
        "--syncer",
        action="append",
        metavar="NAME",
        dest="syncers",
        help="run only this syncer (repeatable; default: all configured)",
    )
    parser.add_argument(
        "--check-config", action="store_true", help="validate the configuration, print it (without tokens) and exit"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.check_config:  # checking a config file needs no metrics server
        require_extra("monitor", "databand-dbt monitor")
    from airflow_provider_databand_dbt.monitor.config import MonitorConfigError, load_config
    from airflow_provider_databand_dbt.monitor.logfmt import configure_logging

    flags = {key: getattr(args, key) for key, _, _ in FLAG_KEYS}
    verbose = bool(getattr(args, "verbose", False))
    # Early, so warnings while reading the config come out in the chosen format.
    configure_logging(flags["log_format"] if flags["log_format"] == "json" else "text", verbose=verbose)
    try:
        config = load_config(args.config, flags=flags, only_syncers=args.syncers)
    except MonitorConfigError as exc:
        print(f"databand-dbt monitor: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_format, verbose=verbose)
    store = store_choice(config, flags).describe()
    if args.check_config:
        print(describe_config(config, store))
        return 0
    from airflow_provider_databand_dbt.monitor.daemon import MonitorDaemon

    log.info("tracking store %s", store)
    return MonitorDaemon(config).run()


def store_choice(config, flags: dict):
    """The monitor's store and the rule that picked it: its own settings first, then the usual precedence."""
    from airflow_provider_databand_dbt.monitor.config_sources import read_environment
    from airflow_provider_databand_dbt.tracking.url import choose_tracking_url

    if flags.get("tracking_url"):
        origin = "--tracking-url"
    else:
        from_env = read_environment(os.environ).main.get("tracking_url")
        origin = from_env.origin if from_env else f"tracking_url in [dbt_monitor] of {config.config_path}"
    return choose_tracking_url(config.tracking_url, explicit_origin=origin)


def describe_config(config, store: str) -> str:
    """A readable summary of the effective configuration; tokens show only where they come from."""
    lines = [
        f"config file: {config.config_path or '(none)'}",
        f"tracking store: {store}",
        f"prometheus: {config.prometheus_host}:{config.prometheus_port}"
        if config.prometheus_port
        else "prometheus: disabled",
        f"webhooks: {config.webhook_host}:{config.webhook_port}" if config.webhook_port else "webhooks: disabled",
        f"interval: {config.interval:g} s, number_of_iterations: {config.number_of_iterations}, "
        f"stop_after: {config.stop_after}, lease_seconds: {config.lease_seconds:g}, "
        f"max_backoff: {config.max_backoff:g}",
        f"retention_days: {config.retention_days} (sent/failed alerts and finished webhook events older than this "
        "are pruned hourly)"
        if config.retention_days
        else "retention_days: 0 (sent/failed alerts and finished webhook events are kept forever)",
    ]
    for s in config.syncers:
        filters = (
            ", ".join(
                f"{k}={list(v)}"
                for k, v in (
                    ("job_ids", s.job_ids),
                    ("project_ids", s.project_ids),
                    ("environment_ids", s.environment_ids),
                )
                if v
            )
            or "none"
        )
        lines.append(
            f"syncer {s.name}: account {s.account_id} on {s.api_url}; token from {s.token_origin}; filters: {filters}; "
            f"runs_page_size {s.runs_page_size}; "
            f"backfill {f'{s.backfill_seconds:g} s' if s.backfill_seconds else 'none'}; "
            f"max_requests_per_minute {s.max_requests_per_minute}; collect_concurrency {s.collect_concurrency}; "
            f"request_deadline {s.request_deadline:g} s; collect_deadline {s.collect_deadline:g} s; "
            f"max_response_bytes {s.max_response_bytes}; "
            f"webhook secret from {s.webhook_secret_origin or 'none (no webhooks)'}"
        )
    return "\n".join(lines)
