"""``databand-dbt emulator --webhook URL --webhook-secret-env VAR``: make the emulator send signed webhooks.

The secret is read from the named environment variable, never from argv, and never printed.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from airflow_provider_databand_dbt.cli.errors import CliUsageError

_EVENTS = "job.run.started,job.run.completed,job.run.errored"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("webhooks (like dbt Cloud's, signed with HMAC-SHA256)")
    group.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="URL",
        help="deliver run events of the demo account to this loopback URL, e.g. a local monitor's "
        "http://127.0.0.1:8790/webhooks/dbt-cloud/demo (repeat for several)",
    )
    group.add_argument(
        "--webhook-secret-env",
        metavar="VAR",
        help="environment variable holding the webhook secret (required with --webhook; never printed)",
    )
    group.add_argument(
        "--webhook-events",
        default=_EVENTS,
        metavar="LIST",
        help="comma-separated events to send (default: %(default)s)",
    )


def subscribe(emulator: Any, args: argparse.Namespace) -> list[str]:
    """Register the ``--webhook`` subscriptions; returns the lines to print (URLs and events, no secret)."""
    if not args.webhook:
        if args.webhook_secret_env:
            raise CliUsageError("--webhook-secret-env needs --webhook URL (where to send the events)")
        return []
    if not args.webhook_secret_env:
        raise CliUsageError(
            "--webhook needs --webhook-secret-env VAR: the variable holding the secret that signs events"
        )
    secret = os.environ.get(args.webhook_secret_env, "")
    if not secret:
        raise CliUsageError(
            f"environment variable {args.webhook_secret_env} (from --webhook-secret-env) is not set or empty; "
            "export the webhook secret in it"
        )
    from airflow_provider_databand_dbt.testing.emulator_webhooks import WebhookError

    lines = []
    for url in args.webhook:
        try:
            sub = emulator.add_webhook(url, secret, event_types=args.webhook_events)
        except WebhookError as exc:
            raise CliUsageError(f"--webhook: {exc}") from None
        lines.append(
            f"webhook {sub.id}: {', '.join(sub.event_types)} -> {sub.url} (signed with ${args.webhook_secret_env})"
        )
    return lines
