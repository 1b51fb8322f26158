#!/usr/bin/env python
"""Benchmark the account request budget shared through the tracking store, against dbt Cloud's lock-out.

The emulator (its own process) limits the account to ``--limit`` requests per minute (any 60 s) and answers
every request of the account with 429 for ``--lockout`` seconds after a breach, as dbt Cloud does (5,000/min,
five minutes). On it, at the same time: a ``databand-dbt monitor`` backfilling ``--backfill-runs`` one-step
runs (budget ``--budget`` requests/min), plus ``--collectors`` loops of ``databand-dbt collect`` processes,
each collecting ``--collects`` runs of the same account one after the other.

1. ``shared``: every process tracks into one SQLite store, so all draw from the budget the monitor records.
2. ``local`` (baseline, same run): each process tracks into a store of its own, so only local limits apply:
   the monitor its budget, the collects none (today's behaviour without a shared store).

Printed per mode: 429s (must be 0 when shared), lock-outs, requests, achieved requests/min over the wall
time and in the busiest 60 s, against the budget, and wall time. Keeps under ~3 minutes with the defaults.

Usage::

    python benchmarks/bench_budget.py
    python benchmarks/bench_budget.py --collectors 2 --backfill-runs 100   # quicker
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "monitor"))

from bench_monitor import DATA_DIR, ONE_STEP, EmulatorProcess  # noqa: E402
from monitor_helpers import monitor_env, small_artifacts, write_config  # noqa: E402

ACCOUNT_ID = 3
JOB_ID = 950


def populate(emulator: EmulatorProcess, runs: int, artifacts: Path) -> list[int]:
    from airflow_provider_databand_dbt.testing.emulator import DEMO_TOKEN

    emulator.call("POST", "accounts", {"account_id": ACCOUNT_ID, "token": DEMO_TOKEN, "name": "Budget"})
    emulator.call("POST", "jobs", {"account_id": ACCOUNT_ID, "job_id": JOB_ID, "name": "One step"})
    added = emulator.call(
        "POST",
        "runs",
        {
            "account_id": ACCOUNT_ID,
            "job_id": JOB_ID,
            "count": runs,
            "status": "success",
            "artifacts_dir": str(artifacts),
            "steps_override": ONE_STEP,
        },
    )
    return sorted(added["run_ids"])


def _collect_loop(emulator: EmulatorProcess, run_ids: list[int], store_url: str, failures: list[str]) -> None:
    from airflow_provider_databand_dbt.testing.emulator import DEMO_TOKEN

    env = {**os.environ, "DBT_CLOUD_API_TOKEN": DEMO_TOKEN}
    for run_id in run_ids:
        command = [sys.executable, "-m", "airflow_provider_databand_dbt.cli", "collect", "--json"]
        command += ["--account-id", str(ACCOUNT_ID), "--run-id", str(run_id), "--api-url", emulator.url]
        command += ["--tracking-url", store_url]
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            failures.append(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}")


def run_mode(
    args: argparse.Namespace, emulator: EmulatorProcess, run_ids: list[int], workdir: Path, shared: bool
) -> dict:
    """The monitor backfill plus the collect loops, all on one store (``shared``) or each on its own."""
    mode = "shared" if shared else "local"
    emulator.call("POST", "rate_limit", {"requests_per_minute": args.limit, "lockout_seconds": args.lockout})

    def store(name: str) -> str:
        return f"sqlite:///{workdir / (f'{mode}.db' if shared else f'{mode}-{name}.db')}"

    config = write_config(
        workdir / f"{mode}.cfg",
        emulator.url,
        store("monitor"),
        interval=1,
        syncers={
            "bench": {"account_id": ACCOUNT_ID, "backfill": "1d", "max_requests_per_minute": args.budget},
        },
    )
    if shared:  # as left by an earlier start of the monitor: the collects may start first
        from urllib.parse import urlsplit

        from airflow_provider_databand_dbt.tracking.store import TrackingStore

        with TrackingStore(store("monitor")) as opened:
            opened.set_request_budget(urlsplit(emulator.url).netloc, ACCOUNT_ID, args.budget, "bench_budget.py")
    # The collects take the newest runs, the monitor backfills them all: both hit the same account at once.
    picks = run_ids[-args.collectors * args.collects :]
    failures: list[str] = []
    started = time.perf_counter()
    monitor = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_databand_dbt.cli", "monitor", "--config", str(config)]
        + ["--number-of-iterations", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=monitor_env(),
    )
    threads = [
        threading.Thread(
            target=_collect_loop,
            args=(emulator, picks[i :: args.collectors], store(f"collect{i}"), failures),
        )
        for i in range(args.collectors)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _, monitor_err = monitor.communicate(timeout=600)
    wall = time.perf_counter() - started
    counts = emulator.call("GET", "rate_limit")
    account = counts["accounts"].get(str(ACCOUNT_ID), {})
    requests = account.get("requests", 0)
    return {
        "mode": mode,
        "wall_seconds": wall,
        "requests": requests,
        "rate_limited": account.get("rate_limited", 0),
        "lockouts": account.get("lockouts", 0),
        "requests_per_minute": requests / wall * 60,
        "busiest_60s": account.get("busiest_60s", 0),
        "monitor_exit": monitor.returncode,
        "monitor_tail": monitor_err.strip().splitlines()[-1:] if monitor.returncode else [],
        "collect_failures": len(failures),
        "collects": len(picks),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=300, help="the emulated account limit, requests/min")
    parser.add_argument("--budget", type=int, default=285, help="the monitor's max_requests_per_minute")
    parser.add_argument("--lockout", type=float, default=20.0, help="seconds an account stays locked after a breach")
    parser.add_argument("--backfill-runs", type=int, default=100)
    parser.add_argument("--collectors", type=int, default=4, help="concurrent collect loops")
    parser.add_argument("--collects", type=int, default=8, help="collect processes per loop, one after the other")
    parser.add_argument("--only", choices=("shared", "local"), help="run one mode only")
    args = parser.parse_args()

    emulator = EmulatorProcess()
    try:
        run_ids = populate(emulator, args.backfill_runs, small_artifacts(DATA_DIR / "budget_small_artifacts"))
        with tempfile.TemporaryDirectory(prefix="bench-budget-") as tmp:
            modes = [m for m in ("shared", "local") if args.only in (None, m)]
            results = [run_mode(args, emulator, run_ids, Path(tmp), shared=m == "shared") for m in modes]
    finally:
        emulator.stop()
    print(
        f"emulated limit {args.limit}/min (lock-out {args.lockout:g} s); budget {args.budget}/min; monitor backfill of "
        f"{args.backfill_runs} runs + {args.collectors} concurrent collect loops x {args.collects} runs"
    )
    for r in results:
        print(
            f"{r['mode']:>6}: 429s {r['rate_limited']:4d} (lock-outs {r['lockouts']}), requests {r['requests']:4d}, "
            f"{r['requests_per_minute']:6.1f}/min over {r['wall_seconds']:.1f} s wall, busiest 60 s {r['busiest_60s']} "
            f"({r['busiest_60s'] / args.budget:.2f} x budget); monitor exit {r['monitor_exit']} {r['monitor_tail']}, "
            f"collects failed {r['collect_failures']}/{r['collects']}"
        )


if __name__ == "__main__":
    main()
