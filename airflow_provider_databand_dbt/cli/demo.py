"""``databand-dbt demo``: the whole product end to end on a local dbt Cloud emulator and the default store."""

from __future__ import annotations

import argparse
import time

from airflow_provider_databand_dbt.cli import options
from airflow_provider_databand_dbt.cli.render import render_run
from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudTimeoutError
from airflow_provider_databand_dbt.model.status import RunStatus
from airflow_provider_databand_dbt.safe_text import escape_controls

POLL_SECONDS = 0.5
# The demo's emulator gets a new port every time; its runs are tracked under this one host instead, so
# repeated demos build one "Nightly build" history rather than one pipeline per port.
DEMO_HOST = "dbt-cloud-demo.localhost"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="start a local dbt Cloud emulator, trigger a job, wait, collect and show the tracked run",
        description="Runs everything locally: no dbt Cloud account needed. Starts the bundled dbt Cloud API "
        "emulator (real artifacts from a real dbt project), triggers the 'Nightly build' job, waits for it, "
        "collects it into the tracking store and prints it.",
    )
    parser.add_argument(
        "--job-id",
        type=options.positive_id,
        default=100,
        help="emulated job to trigger: 100 Nightly build (fails a test, skips a model), 101 Hourly models "
        "(succeeds) (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for the run (default: %(default)s)"
    )
    options.add_tracking_url(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
    from airflow_provider_databand_dbt.model.source import TrackingSource
    from airflow_provider_databand_dbt.sinks.service import TrackingService
    from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN, DbtCloudEmulator

    class DemoClient(DbtCloudClient):
        @property
        def host(self) -> str:
            return DEMO_HOST

    store = options.open_store(args)
    with DbtCloudEmulator() as emulator, DemoClient(DEMO_TOKEN, emulator.url) as client:
        emulator.set_lifecycle(queued_seconds=1.0, running_seconds=3.0)
        print(f"dbt Cloud API emulator listening on {emulator.url} (account {DEMO_ACCOUNT_ID})")
        job = client.get_job(DEMO_ACCOUNT_ID, args.job_id)
        run = client.trigger_job_run(DEMO_ACCOUNT_ID, args.job_id, cause="databand-dbt demo")
        print(escape_controls(f"Triggered job {job.id} '{job.name}': run {run.id}"))
        run = _wait_until_finished(client, DEMO_ACCOUNT_ID, run.id, args.timeout)
        print(f"Collecting run {run.id} (host {DEMO_HOST}) into {store.display_url} ...")
        report = TrackingService(store).track(
            client,
            DEMO_ACCOUNT_ID,
            run.id,
            source=TrackingSource(kind="cli", name="databand-dbt demo"),
            progress=lambda message: print(f"  {escape_controls(message)}", flush=True),
        )
    sources = store.list_sources(report.run_id, account_id=report.account_id, host=report.host)
    store.close()
    print()
    print(render_run(report, sources))
    print()
    print(
        "Next: `databand-dbt runs` lists what is tracked, "
        f"`databand-dbt show {report.run_id}` shows this run again, `databand-dbt ui` opens the web view."
    )
    return 0


def _wait_until_finished(client, account_id: int, run_id: int, timeout: float):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        run = client.get_run(account_id, run_id, include_related=())
        status = RunStatus(run.status)
        if status != last:
            print(f"  run {run_id}: {status.label}", flush=True)
            last = status
        if status.is_terminal:
            return run
        if time.monotonic() > deadline:
            raise DbtCloudTimeoutError(f"run {run_id} did not finish within {timeout:.0f} s")
        time.sleep(POLL_SECONDS)
