"""``databand-dbt collect``: fetch one dbt Cloud run with its artifacts and store it."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from typing import TYPE_CHECKING, Literal

from airflow_provider_databand_dbt.cli import options
from airflow_provider_databand_dbt.cli.render import render_run
from airflow_provider_databand_dbt.collector.collect import DEFAULT_COLLECT_DEADLINE
from airflow_provider_databand_dbt.dbt_cloud.transport import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_DEADLINE
from airflow_provider_databand_dbt.safe_text import escape_controls

if TYPE_CHECKING:
    from airflow_provider_databand_dbt.tracking.store import TrackingStore


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "collect",
        help="collect one dbt Cloud run (steps, node results) into the tracking store",
        description="Fetch a dbt Cloud run, its steps and artifacts, and store it. "
        f"The token comes from ${options.TOKEN_ENV} or --token-file.",
    )
    parser.add_argument("--account-id", required=True, type=options.positive_id, help="dbt Cloud account id")
    parser.add_argument("--run-id", required=True, type=options.positive_id, help="dbt Cloud run id")
    parser.add_argument(
        "--api-url",
        default="https://cloud.getdbt.com",
        help="dbt Cloud host or access URL, e.g. emea.dbt.com or https://ab123.us1.dbt.com (default: %(default)s)",
    )
    parser.add_argument("--no-store", action="store_true", help="print the report without storing it")
    parser.add_argument(
        "--collect-deadline",
        metavar="SECONDS",
        type=options.positive_seconds,
        default=DEFAULT_COLLECT_DEADLINE,
        help="give up on the whole collection after this long, retries included (default: %(default)g)",
    )
    parser.add_argument(
        "--request-deadline",
        metavar="SECONDS",
        type=options.positive_seconds,
        default=DEFAULT_REQUEST_DEADLINE,
        help="give up on one request after this long, download included, even if data keeps trickling "
        "in (default: %(default)g)",
    )
    parser.add_argument(
        "--max-response-bytes",
        metavar="BYTES",
        type=options.positive_count,
        default=DEFAULT_MAX_RESPONSE_BYTES,
        help="largest JSON answer accepted from dbt Cloud, once decompressed (default: %(default)d, 32 MiB)",
    )
    options.add_token_file(parser)
    options.add_tracking_url(parser)
    options.add_json(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from airflow_provider_databand_dbt.api import collect_data_from_dbt_cloud
    from airflow_provider_databand_dbt.model.source import TrackingSource

    token = options.read_token(args)
    store: Literal[False] | TrackingStore = False if args.no_store else options.open_store(args)
    with _exit_cleanly_on_sigterm(), _closing(store):
        report = collect_data_from_dbt_cloud(
            args.account_id,
            token,
            args.run_id,
            args.api_url,
            store=store,
            source=TrackingSource(kind="cli", name="databand-dbt collect"),
            progress=_progress,
            client_options={"request_deadline": args.request_deadline, "max_response_bytes": args.max_response_bytes},
            collect_deadline=args.collect_deadline,
        )
    if args.json:
        sys.stdout.write(report.to_json().decode() + "\n")
    else:
        print(render_run(report))
        if store:
            print(f"\nStored in {store.display_url}")
    return 0


EXIT_SIGTERM = 128 + signal.SIGTERM


@contextlib.contextmanager
def _closing(store):
    """Close the store we opened: a clean close lets SQLite fold its WAL back into the file."""
    try:
        yield
    finally:
        if not isinstance(store, bool):
            store.close()


@contextlib.contextmanager
def _exit_cleanly_on_sigterm():
    """Turn SIGTERM into SystemExit so ``finally`` blocks run and the partial download is deleted.

    Without it the default action kills the process on the spot and leaves a half-written
    artifact (hundreds of MB) in the temp folder.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        print("databand-dbt: terminated (SIGTERM); removing partial downloads", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_SIGTERM)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _progress(message: str) -> None:
    print(escape_controls(message), file=sys.stderr, flush=True)
