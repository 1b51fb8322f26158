"""``databand-dbt runs`` and ``databand-dbt show``: read what the tracking store holds."""

from __future__ import annotations

import argparse
import json
import sys

import msgspec

from airflow_provider_databand_dbt.cli import options
from airflow_provider_databand_dbt.cli.errors import CliUsageError
from airflow_provider_databand_dbt.cli.render import render_run, summary_line, table
from airflow_provider_databand_dbt.model.attribution import attribution_from_cause
from airflow_provider_databand_dbt.model.status import RUN_LABELS
from airflow_provider_databand_dbt.tracking.errors import RunNotTracked

RUN_STATUSES = list(RUN_LABELS)


def register(subparsers) -> None:
    runs = subparsers.add_parser(
        "runs",
        help="list tracked pipelines (dbt Cloud jobs) and their recent runs",
        description="List tracked pipelines and recent runs, newest first.",
    )
    runs.add_argument("--job-id", type=options.positive_id, help="only runs of this dbt Cloud job")
    runs.add_argument("--status", choices=RUN_STATUSES, help="only runs with this status")
    runs.add_argument(
        "--since",
        type=options.time_bound("since"),
        help="only runs created at or after this UTC day (2026-11-25) or instant (2026-11-25T08:30:00Z)",
    )
    runs.add_argument(
        "--until",
        type=options.time_bound("until"),
        help="only runs created before this instant, or up to the end of this UTC day (a day is included)",
    )
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
    show.add_argument(
        "--host",
        type=options.dbt_cloud_host,
        help="dbt Cloud host, to disambiguate, as `runs` shows it or as a URL: cloud.getdbt.com, 127.0.0.1:8787, "
        "http://127.0.0.1:8787",
    )
    options.add_tracking_url(show)
    options.add_json(show)
    show.set_defaults(func=show_run)


def list_runs(args: argparse.Namespace) -> int:
    from airflow_provider_databand_dbt.tracking.read.filters import BadBound

    store = options.open_read_store(args)
    try:
        pipelines = store.list_pipelines()
        try:
            runs = store.list_runs(
                job_id=args.job_id, status=args.status, since=args.since, until=args.until, limit=args.limit
            )
        except BadBound as error:
            raise CliUsageError(str(error)) from None
    finally:
        store.close()
    if args.json:
        payload = {"pipelines": msgspec.to_builtins(pipelines), "runs": [run.as_dict() for run in runs]}
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return 0
    if not pipelines:
        print(f"No tracked runs in {store.display_url} yet: try `databand-dbt demo` or `databand-dbt collect`.")
        return 0
    # The host and account are part of a run's identity: show them as soon as they tell runs apart.
    several_hosts = len({p.host for p in pipelines}) > 1
    several_accounts = len({(p.host, p.account_id) for p in pipelines}) > 1
    print("Pipelines (dbt Cloud jobs)")
    print(
        table(
            _columns(
                several_hosts,
                "host",
                "job",
                "name",
                "project",
                "environment",
                "account",
                "runs",
                "last status",
                "last run",
            ),
            (
                _columns(
                    several_hosts,
                    p.host,
                    p.job_id,
                    p.name,
                    p.project_name,
                    p.environment_name,
                    p.account_id,
                    p.run_count,
                    p.last_status,
                    p.last_run_at,
                )
                for p in pipelines
            ),
        )
    )
    print()
    title = (
        "Recent runs"
        + (f" of job {args.job_id}" if args.job_id else "")
        + (f" with status {args.status}" if args.status else "")
        + (f" since {args.since}" if args.since else "")
        + (f" until {args.until}" if args.until else "")
    )
    if not runs:
        print(f"{title}: none")
        return 0
    print(title)
    headers: tuple[str, ...] = ("run", "job", "status", "created", "duration", "nodes", "tracked by", "triggered by")
    if several_accounts:
        headers = ("run", "account", *headers[1:])
    print(
        table(
            _columns(several_hosts, "host", *headers),
            (
                _columns(
                    several_hosts,
                    r.host,
                    r.run_id,
                    *([r.account_id] if several_accounts else []),
                    r.job_name or r.job_id,
                    r.status,
                    r.created_at,
                    None if r.duration_seconds is None else f"{r.duration_seconds:.1f}s",
                    summary_line(r.summary),
                    ",".join(r.trackers),
                    _trigger_cell(r.trigger_cause),
                )
                for r in runs
            ),
        )
    )
    return 0


def _trigger_cell(cause: str | None) -> str | None:
    """``dag.task`` of the Airflow task that triggered the run, when its cause names one."""
    found = attribution_from_cause(cause)
    return None if found is None else f"{found.dag_id}.{found.task_id}"


def _columns(with_host: bool, host: object, *values: object) -> tuple:
    return (host, *values) if with_host else values


def show_run(args: argparse.Namespace) -> int:
    store = options.open_read_store(args)
    try:
        matches = store.find_runs(args.run_id, account_id=args.account_id, host=args.host)
        if not matches:
            qualifier = "".join(
                [f" of account {args.account_id}" if args.account_id else "", f" on {args.host}" if args.host else ""]
            )
            raise RunNotTracked(
                f"run {args.run_id}{qualifier} is not in the tracking store {store.display_url}: "
                "collect it first with `databand-dbt collect --account-id ID --run-id "
                f"{args.run_id}` or check --tracking-url"
            )
        if len(matches) > 1:
            raise _ambiguous(args.run_id, matches)
        match = matches[0]
        report = store.get_report(match.run_id, account_id=match.account_id, host=match.host)
        sources = store.list_sources(match.run_id, account_id=match.account_id, host=match.host)
    finally:
        store.close()
    from airflow_provider_databand_dbt.tracking.read.runs import triggered_by

    trigger = triggered_by(report.trigger_cause, _airflow_link())
    if args.json:
        data = report.as_dict()
        data["sources"] = msgspec.to_builtins(sources)
        data["triggered_by"] = msgspec.to_builtins(trigger)
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        print(render_run(report, sources, trigger))
    return 0


def _airflow_link():
    """Links to Airflow task instances when ``DATABAND_DBT_AIRFLOW_BASE_URL`` says where Airflow is."""
    from airflow_provider_databand_dbt.airflow_links import airflow_base_url_from_env, airflow_task_url

    base = airflow_base_url_from_env()
    return None if base is None else (lambda task: airflow_task_url(base, task))


def _ambiguous(run_id: int, matches) -> CliUsageError:
    """Several hosts or accounts have a run with this id: list them rather than pick one silently."""
    rows = table(
        ("--host", "--account-id", "job", "status", "created"),
        ((m.host, m.account_id, m.job_name or m.job_id, m.status, m.created_at) for m in matches),
    )
    return CliUsageError(
        f"run {run_id} is tracked for {len(matches)} dbt Cloud hosts or accounts: pass --host and --account-id "
        "to choose one of",
        rows.splitlines(),
    )
