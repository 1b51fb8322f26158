"""``databand-dbt alerts``: list the configured channels, send a test alert, show and drain the outbox.

Exit codes: 0 done (``test``: the channel accepted the sample), 1 failed (``test``: the channel refused
it or could not be reached; ``deliver``: some alert failed for good or the store failed), 2 usage or
configuration error (unknown channel, bad alerts config).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from airflow_provider_databand_dbt.cli import options
from airflow_provider_databand_dbt.cli.errors import CliUsageError

EXIT_OK = 0
EXIT_FAILED = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "alerts",
        help="alert channels: list them, send a test alert, show or send the outbox",
        description="Alert channels and the outbox of notifications waiting to be sent. The channels come from "
        "the alerts config ($DATABAND_DBT_ALERTS_CONFIG, else alerts.toml beside the default tracking store) "
        "and the DATABAND_DBT_ALERT_* shortcuts. Exit codes: 0 done, 1 failed, 2 usage or config error.",
    )
    commands = parser.add_subparsers(dest="alerts_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: _usage(parser))

    listing = commands.add_parser("list", help="the configured channels, their filters and targets (no secrets)")
    _add_config(listing)
    options.add_json(listing)
    listing.set_defaults(func=run_list)

    test = commands.add_parser(
        "test",
        help="send a sample alert through one channel and report the outcome",
        description="Send a made-up alert through CHANNEL now (not through the outbox). "
        "Exit codes: 0 accepted, 1 refused or unreachable, 2 unknown channel or bad config.",
    )
    test.add_argument("channel", metavar="CHANNEL", help="the channel's name (see `databand-dbt alerts list`)")
    _add_config(test)
    test.set_defaults(func=run_test)

    outbox = commands.add_parser("outbox", help="notifications queued, sent and failed, newest first")
    outbox.add_argument("--state", choices=("pending", "sending", "sent", "failed"), help="only rows in this state")
    outbox.add_argument("--limit", type=options.positive_count, default=50, help="rows to show (default 50)")
    options.add_tracking_url(outbox)
    options.add_json(outbox)
    outbox.set_defaults(func=run_outbox)

    deliver = commands.add_parser(
        "deliver",
        help="send the due alerts of the outbox now (what the monitor does every interval)",
        description="Send every due alert once. Exit codes: 0 nothing failed for good, 1 some alert failed "
        "for good or the store failed, 2 bad config.",
    )
    _add_config(deliver)
    options.add_tracking_url(deliver)
    deliver.set_defaults(func=run_deliver)


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="PATH", help="alerts config file (default: $DATABAND_DBT_ALERTS_CONFIG or alerts.toml)"
    )


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _config(args: argparse.Namespace):
    from airflow_provider_databand_dbt.alerts.config import AlertsConfigError, load_alerts_config

    try:
        return load_alerts_config(getattr(args, "config", None))
    except AlertsConfigError as exc:
        raise CliUsageError(str(exc)) from None


def run_list(args: argparse.Namespace) -> int:
    config = _config(args)
    rows = [
        {
            "name": c.name,
            "type": c.type,
            "target": c.describe_target(),
            "pipelines": list(c.filters.pipelines),
            "rules": list(c.filters.rules) or "all",
            "min_severity": c.filters.min_severity,
            "changes": list(c.filters.changes),
        }
        for c in config.channels
    ]
    if args.json:
        sys.stdout.write(json.dumps({"config": str(config.path) if config.path else None, "channels": rows}) + "\n")
        return EXIT_OK
    print(f"alerts config: {config.path or 'no file (environment only)'}")
    if not rows:
        print("no channel configured: alerts are queued nowhere")
    for row in rows:
        pipelines = ", ".join(str(p) for p in row["pipelines"]) or "all"
        rules = row["rules"] if isinstance(row["rules"], str) else ", ".join(row["rules"])
        print(f"{row['name']} ({row['type']}): {row['target']}")
        print(
            f"  pipelines: {pipelines}; rules: {rules}; min severity: {row['min_severity']}; "
            f"changes: {', '.join(row['changes'])}"
        )
    return EXIT_OK


def run_test(args: argparse.Namespace) -> int:
    from airflow_provider_databand_dbt.alerts.channels import DeliveryError, build_channel
    from airflow_provider_databand_dbt.alerts.sample import sample_notification
    from airflow_provider_databand_dbt.alerts.secrets import redact

    config = _config(args)
    channel_config = config.channel(args.channel)
    if channel_config is None:
        known = ", ".join(c.name for c in config.channels) or "none"
        raise CliUsageError(f"no alert channel named {args.channel!r}; configured: {known}")
    channel = build_channel(channel_config)
    try:
        channel.send(sample_notification(config.web_base_url), channel_config.timeout)
    except DeliveryError as exc:
        print(f"databand-dbt: error: channel {channel_config.name}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback with the URL in it
        message = redact(f"{type(exc).__name__}: {exc}", channel_config.secrets())
        print(f"databand-dbt: error: channel {channel_config.name}: {message}", file=sys.stderr)
        return EXIT_FAILED
    print(f"sent a test alert through {channel_config.name} ({channel_config.describe_target()})")
    return EXIT_OK


def run_outbox(args: argparse.Namespace) -> int:
    from airflow_provider_databand_dbt.tracking import alert_outbox

    with options.open_read_store(args) as store:
        rows = store.read(
            "read the alert outbox", lambda conn: alert_outbox.list_rows(conn, state=args.state, limit=args.limit)
        )
        counts = store.read("count the alert outbox", alert_outbox.count_by_state)
    if args.json:
        data = {
            "counts": counts,
            "rows": [
                {
                    "id": row.id,
                    "key": row.notification_key,
                    "channel": row.channel,
                    "state": row.state,
                    "attempts": row.attempts,
                    "next_attempt_at": row.next_attempt_at.isoformat(),
                    "last_error": row.last_error,
                    "created_at": row.created_at.isoformat(),
                    "sent_at": row.sent_at.isoformat() if row.sent_at else None,
                }
                for row in rows
            ],
        }
        sys.stdout.write(json.dumps(data) + "\n")
        return EXIT_OK
    print(", ".join(f"{count} {state}" for state, count in counts.items()))
    for row in rows:
        when = (
            f"sent {row.sent_at:%Y-%m-%d %H:%M:%S}" if row.sent_at else f"next {row.next_attempt_at:%Y-%m-%d %H:%M:%S}"
        )
        error = f"  last error: {row.last_error}" if row.last_error else ""
        head = f"{row.id:>6} {row.state:<8} {row.channel:<16} attempts {row.attempts}"
        print(f"{head}  {when}  {row.notification_key}{error}")
    return EXIT_OK


def run_deliver(args: argparse.Namespace) -> int:
    from airflow_provider_databand_dbt.alerts.delivery import drain_outbox

    config = _config(args)
    if not config.active:
        print("no alert channel configured: nothing to send")
        return EXIT_OK
    with options.open_store(args) as store:
        result = drain_outbox(store, config)
    print(f"alerts: {result}")
    return EXIT_FAILED if result.failed or result.store_error else EXIT_OK
