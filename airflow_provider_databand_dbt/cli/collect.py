"""``databand-dbt collect``: fetch one dbt Cloud run with its artifacts and store it."""
from __future__ import annotations

import argparse
import sys

from airflow_provider_databand_dbt.cli import options
from airflow_provider_databand_dbt.cli.render import render_run
from airflow_provider_databand_dbt.safe_text import escape_controls


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
        help="dbt Cloud host or access URL, e.g. emea.dbt.com or https://ab123.us1.dbt.com "
        "(default: %(default)s)",
    )
    parser.add_argument("--no-store", action="store_true", help="print the report without storing it")
    options.add_token_file(parser)
    options.add_tracking_url(parser)
    options.add_json(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from airflow_provider_databand_dbt.collector.collect import collect_data_from_dbt_cloud
    from airflow_provider_databand_dbt.tracking.source import TrackingSource

    token = options.read_token(args)
    store = False if args.no_store else options.open_store(args)
    try:
        report = collect_data_from_dbt_cloud(
            args.account_id,
            token,
            args.run_id,
            args.api_url,
            store=store,
            source=TrackingSource(kind="cli", name="databand-dbt collect"),
            progress=_progress,
        )
    finally:
        if not isinstance(store, bool):
            store.close()  # a clean close lets SQLite fold its WAL back into the file
    if args.json:
        sys.stdout.write(report.to_json().decode() + "\n")
    else:
        print(render_run(report))
        if store:
            print(f"\nStored in {store.display_url}")
    return 0


def _progress(message: str) -> None:
    print(escape_controls(message), file=sys.stderr, flush=True)
