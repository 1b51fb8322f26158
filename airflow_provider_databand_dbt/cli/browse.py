"""``databand-dbt runs`` and ``databand-dbt show``: read what the tracking store holds."""
from __future__ import annotations

import argparse
import json
import sys

import msgspec

from airflow_provider_databand_dbt.cli import options
from airflow_provider_databand_dbt.cli.render import render_run, summary_line, table
from airflow_provider_databand_dbt.dbt_cloud.status import RunStatus
from airflow_provider_databand_dbt.tracking.errors import RunNotTracked

RUN_STATUSES = [status.label for status in RunStatus]


def register(subparsers) -> None:
    runs = subparsers.add_parser(
        "runs",
        help="list tracked pipelines (dbt Cloud jobs) and their recent runs",
        description="List tracked pipelines and recent runs, newest first.",
    )
    runs.add_argument("--job-id", type=options.positive_id, help="only runs of this dbt Cloud job")
    runs.add_argument("--status", choices=RUN_STATUSES, help="only runs with this status")
    runs.add_argument("--limit", type=options.positive_count, default=20, help="runs to list (default: %(default)s)")
    options.add_tracking_url(runs)
    options.add_json(runs)
    runs.set_defaults(func=list_runs)

    show = subparsers.add_parser(
        "show",
        help="show one tracked run: steps and node results, failures first",
        description="Show a tracked run. Use --json for RunReport.as_dict().",
    )
    show.add_argument("run_id", type=options.positive_id, help="dbt Cloud run id")
    show.add_argument("--account-id", type=options.positive_id, help="disambiguate when several accounts share it")
    show.add_argument("--host", help="dbt Cloud host, to disambiguate")
    options.add_tracking_url(show)
    options.add_json(show)
    show.set_defaults(func=show_run)


def list_runs(args: argparse.Namespace) -> int:
    store = options.open_read_store(args)
    try:
        pipelines = store.list_pipelines()
        runs = store.list_runs(job_id=args.job_id, status=args.status, limit=args.limit)
    finally:
        store.close()
    if args.json:
        payload = {"pipelines": msgspec.to_builtins(pipelines), "runs": msgspec.to_builtins(runs)}
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return 0
    if not pipelines:
        print(f"No tracked runs in {store.display_url} yet: try `databand-dbt demo` or `databand-dbt collect`.")
        return 0
    print("Pipelines (dbt Cloud jobs)")
    print(
        table(
            ("job", "name", "project", "environment", "account", "runs", "last status", "last run"),
            (
                (p.job_id, p.name, p.project_name, p.environment_name, p.account_id, p.run_count,
                 p.last_status, p.last_run_at)
                for p in pipelines
            ),
        )
    )
    print()
    title = "Recent runs" + (f" of job {args.job_id}" if args.job_id else "") + (
        f" with status {args.status}" if args.status else ""
    )
    if not runs:
        print(f"{title}: none")
        return 0
    print(title)
    print(
        table(
            ("run", "job", "status", "created", "duration", "nodes", "tracked by"),
            (
                (r.run_id, r.job_name or r.job_id, r.status, r.created_at,
                 None if r.duration_seconds is None else f"{r.duration_seconds:.1f}s",
                 summary_line(r.summary), ",".join(r.source_kinds))
                for r in runs
            ),
        )
    )
    return 0


def show_run(args: argparse.Namespace) -> int:
    store = options.open_read_store(args)
    try:
        report = store.get_report(args.run_id, account_id=args.account_id, host=args.host)
        if report is None:
            raise RunNotTracked(
                f"run {args.run_id} is not in the tracking store {store.display_url}: "
                "collect it first with `databand-dbt collect --account-id ID --run-id "
                f"{args.run_id}` or check --tracking-url"
            )
        sources = store.list_sources(report.run_id, account_id=report.account_id, host=report.host)
    finally:
        store.close()
    if args.json:
        data = report.as_dict()
        data["sources"] = msgspec.to_builtins(sources)
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        print(render_run(report, sources))
    return 0
