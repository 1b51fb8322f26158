"""``databand-dbt emulator``: run the local dbt Cloud API emulator in the foreground until stopped."""

from __future__ import annotations

import argparse
import signal
import threading

from airflow_provider_databand_dbt.cli import emulator_webhooks
from airflow_provider_databand_dbt.cli.errors import CliUsageError
from airflow_provider_databand_dbt.dbt_cloud.urls import is_loopback

# What the quick start exports for the example DAGs (they read DBT_CLOUD_CHECK_INTERVAL, default 30 s).
QUICKSTART_CHECK_INTERVAL = 2


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "emulator",
        help="serve a local dbt Cloud API emulator (demo account, jobs, runs with real dbt artifacts)",
        description="Serve an emulated dbt Cloud API on a loopback port until Ctrl+C or SIGTERM. "
        "It has a demo account with two jobs and finished runs; triggered runs go queued -> running -> "
        "finished by wall-clock time. Tests control it over HTTP under /_emulator/.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=_port, default=8787, help="port, 0 for any free one (default: %(default)s)")
    parser.add_argument(
        "--runs-per-job", type=_non_negative_int, default=3, help="finished runs per demo job (default: %(default)s)"
    )
    parser.add_argument(
        "--queued-seconds",
        type=_non_negative_float,
        default=2.0,
        help="how long triggered runs stay queued (default: %(default)s)",
    )
    parser.add_argument(
        "--running-seconds",
        type=_non_negative_float,
        default=10.0,
        help="how long triggered runs run before their final status (default: %(default)s)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (anyone who can reach it can use the demo token)",
    )
    emulator_webhooks.add_arguments(parser)
    parser.set_defaults(func=run)


def _port(text: str) -> int:
    value = _non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value < 0 or value != value:
        raise argparse.ArgumentTypeError(f"expected 0 or more seconds, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    from airflow_provider_databand_dbt.testing.emulator import (
        DEMO_ACCOUNT_ID,
        DEMO_TOKEN,
        HOURLY_JOB_ID,
        NIGHTLY_JOB_ID,
        DbtCloudEmulator,
    )

    if not is_loopback(args.host) and not args.allow_remote:
        raise CliUsageError(
            f"--host {args.host} is not a loopback address; the emulator has a public demo token, "
            "so pass --allow-remote if you really want other machines to reach it"
        )
    emulator = DbtCloudEmulator(args.host.strip("[]"), args.port, runs_per_job=args.runs_per_job)
    emulator.set_lifecycle(args.queued_seconds, args.running_seconds)
    webhook_lines = emulator_webhooks.subscribe(emulator, args)
    try:
        emulator.start()
    except OSError as exc:
        raise CliUsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        latest = max((ids[-1] for ids in emulator.seeded_runs.values() if ids), default=None)
        print(f"dbt Cloud API emulator listening on {emulator.url}", flush=True)
        print(f"account id: {DEMO_ACCOUNT_ID}; jobs: {NIGHTLY_JOB_ID} 'Nightly build', {HOURLY_JOB_ID} 'Hourly models'")
        print(f"export DBT_CLOUD_API_TOKEN={DEMO_TOKEN}")
        # The example DAGs poll every 30 s by default: longer than a whole emulated run.
        print(
            f"export DBT_CLOUD_CHECK_INTERVAL={QUICKSTART_CHECK_INTERVAL}   # example DAGs: poll every "
            f"{QUICKSTART_CHECK_INTERVAL} s, runs here take {args.queued_seconds + args.running_seconds:g} s"
        )
        if latest is not None:
            print(
                f"try: databand-dbt collect --account-id {DEMO_ACCOUNT_ID} --run-id {latest} --api-url {emulator.url}"
            )
        for line in webhook_lines:
            print(line)
        print("control plane: GET/POST/DELETE under /_emulator/ ; Ctrl+C to stop", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        emulator.stop()
    print("emulator stopped", flush=True)
    return 0
