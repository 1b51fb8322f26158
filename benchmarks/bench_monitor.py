#!/usr/bin/env python
"""Benchmark the dbt monitor against the emulator: catch-up rate, idle cost, memory over idle iterations.

The emulator runs in its own process with 50 jobs and 10,000 finished runs carrying the real dbt
artifacts of the ``healthy_run`` scenario, whole (``--artifacts small`` cuts them to 3 results per
step, to measure the request path alone). The monitor runs as ``databand-dbt monitor`` in its own
process with its default request budget (3,000 requests per minute) and its default 60 s lease,
as in production.

1. ``baseline``: one run after another through ``collect_run`` + ``save_report`` on one thread, no
   rate limit: what calling the collector in a loop costs (runs/s), over as many runs as the
   catch-up (``--baseline-runs``, default: the catch-up count).
2. ``catch-up``: a cursor placed 1,000 runs behind the newest; ``--number-of-iterations 1``; runs/s
   from the monitor's own log timestamps, requests sent, requests per minute against the budget.
3. ``idle``: 1,000 iterations with nothing new; requests per iteration (target: 1 per syncer) and
   the monitor's RSS (``process_resident_memory_bytes``) after 10 and after ~1,000 iterations.
4. ``unbounded``: the same catch-up into a fresh store with a budget that never binds: what the
   machine can do (the default budget caps a catch-up at about 10 runs/s).
5. ``backfill``: a fresh account with ``--backfill-runs`` (300) finished one-step runs, backfilled by
   a first start: requests per run against the floor of (artifacts that exist) + (list pages) + the
   project and environment lookups (target about 2.0: manifest + run_results per run).

Usage::

    python benchmarks/bench_monitor.py                       # 50 jobs, 10,000 runs, catch-up 1,000
    python benchmarks/bench_monitor.py --runs 2000 --idle-iterations 200   # quicker
    python benchmarks/bench_monitor.py --full-backfill       # also backfill all runs (slow: budget-bound)
    python benchmarks/bench_monitor.py --polling-only        # only the request counts: backfill + idle
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA_DIR = HERE / ".data"
sys.path.insert(0, str(ROOT / "tests" / "monitor"))  # shared helpers: config files, small artifacts, scraping

from monitor_helpers import (  # noqa: E402
    ARTIFACTS_DIR,
    free_port,
    monitor_env,
    scrape,
    small_artifacts,
    wait_for,
    write_config,
)

ACCOUNT_ID = 1
FIRST_JOB_ID = 200
RUNS_PER_CALL = 20
DEFAULT_BUDGET = 3000  # the monitor's default max_requests_per_minute
UNBOUNDED = 1_000_000  # a budget that never binds: what the machine can do
LEASE_SECONDS = 60  # the monitor's default lease, on as in production


class EmulatorProcess:
    """``databand-dbt emulator`` in its own process, driven over its ``/_emulator/`` control plane."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "airflow_provider_databand_dbt.cli", "emulator", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._ready, 30, "the emulator")

    def _ready(self) -> bool:
        try:
            self.call("GET", "state")
            return True
        except OSError:
            return False

    def call(self, method: str, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/_emulator/{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())["data"]

    def request_count(self) -> int:
        return self.call("GET", "state")["requests"]

    def requests(self) -> list[dict]:
        return self.call("GET", "requests")

    def reset_requests(self) -> None:
        self.call("DELETE", "requests")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def populate(emulator: EmulatorProcess, jobs: int, runs: int, artifacts: Path) -> list[int]:
    """``jobs`` new jobs (scenario healthy_run) and ``runs`` finished runs, interleaved across jobs.

    The emulator's 2 seeded demo jobs and their 6 runs stay, older than all of these.
    """
    job_ids = [FIRST_JOB_ID + i for i in range(jobs)]
    for job_id in job_ids:
        emulator.call("POST", "jobs", {"account_id": ACCOUNT_ID, "job_id": job_id, "name": f"Job {job_id}"})
    run_ids: list[int] = []
    while len(run_ids) < runs:
        for job_id in job_ids:
            count = min(RUNS_PER_CALL, runs - len(run_ids))
            if count <= 0:
                break
            added = emulator.call(
                "POST",
                "runs",
                {
                    "account_id": ACCOUNT_ID,
                    "job_id": job_id,
                    "count": count,
                    "status": "success",
                    "artifacts_dir": str(artifacts),
                    "interval_seconds": 30,
                },
            )
            run_ids += added["run_ids"]
    return sorted(run_ids)


def baseline(emulator: EmulatorProcess, run_ids: list[int], workdir: Path) -> dict:
    """Collect + store runs one after the other on one thread: the cost of the collector alone."""
    import logging

    from airflow_provider_databand_dbt.collector.collect import collect_run
    from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
    from airflow_provider_databand_dbt.model.source import TrackingSource
    from airflow_provider_databand_dbt.testing.emulator import DEMO_TOKEN
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    logging.getLogger("airflow_provider_databand_dbt").setLevel(logging.ERROR)
    store = TrackingStore(f"sqlite:///{workdir / 'baseline.db'}")
    source = TrackingSource(kind="api", name="baseline")
    with DbtCloudClient(DEMO_TOKEN, emulator.url) as client:
        started = time.perf_counter()
        for run_id in run_ids:
            store.save_report(collect_run(client, ACCOUNT_ID, run_id), source)
        elapsed = time.perf_counter() - started
        requests = client.request_count
    store.close()
    return {
        "runs": len(run_ids),
        "seconds": elapsed,
        "runs_per_second": len(run_ids) / elapsed,
        "requests_per_run": requests / len(run_ids),
    }


def _log_times(log_text: str) -> tuple[float, list[float]]:
    """Seconds of the "monitoring" line and of every "tracked run" line, from the JSON log."""
    start, tracked = None, []
    for line in log_text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        when = datetime.fromisoformat(record["time"]).timestamp()
        if record["message"].startswith("monitoring "):
            start = when
        elif record["message"].startswith("tracked run"):
            tracked.append(when)
    return start, tracked


def catch_up(
    emulator: EmulatorProcess,
    run_ids: list[int],
    count: int,
    tracking_url: str,
    workdir: Path,
    *,
    full_backfill: bool = False,
    budget: int = DEFAULT_BUDGET,
) -> dict:
    """The monitor catching up ``count`` runs newer than a stored cursor (or backfilling everything)."""
    from airflow_provider_databand_dbt.tracking.rows import MonitorCursor
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    syncer = {"max_requests_per_minute": budget, **({"backfill": "30d"} if full_backfill else {})}
    config = write_config(
        workdir / "catch_up.cfg",
        emulator.url,
        tracking_url,
        interval=1,
        log_format="json",
        lease_seconds=LEASE_SECONDS,
        syncers={"bench": syncer},
    )
    if not full_backfill:
        with TrackingStore(tracking_url) as store:
            store.save_cursor(
                MonitorCursor(
                    syncer="bench",
                    host=f"127.0.0.1:{emulator.port}",
                    account_id=ACCOUNT_ID,
                    last_run_id=run_ids[-count - 1],
                    backfill_done=True,
                )
            )
    emulator.reset_requests()
    started = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airflow_provider_databand_dbt.cli",
                "monitor",
                "--config",
                str(config),
                "--number-of-iterations",
                "1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=monitor_env(),
        )
        counts = []  # (seconds, requests answered so far), to find the busiest 60 s window
        while proc.poll() is None:
            counts.append((time.perf_counter(), emulator.request_count()))
            time.sleep(0.5)
        wall = time.perf_counter() - started
        log.seek(0)
        stderr = log.read().decode(errors="replace")
    counts.append((time.perf_counter(), emulator.request_count()))
    if proc.returncode != 0:
        raise SystemExit(f"monitor failed ({proc.returncode}):\n{stderr[-3000:]}")
    start, tracked = _log_times(stderr)
    seconds = tracked[-1] - start
    requests = emulator.requests()
    lists = sum(1 for r in requests if r["path"].endswith("/runs/"))
    return {
        "runs": len(tracked),
        "seconds": seconds,
        "process_wall_seconds": wall,
        "runs_per_second": len(tracked) / seconds,
        "requests": len(requests),
        "list_requests": lists,
        "requests_per_run": len(requests) / len(tracked),
        "requests_per_minute": len(requests) / seconds * 60,
        "busiest_60s_window": _busiest_window(counts, 60.0),
        "budget_per_minute": budget,
    }


def _busiest_window(counts: list[tuple[float, int]], window: float) -> int:
    """Most requests answered within any ``window`` seconds (from samples taken every 0.5 s)."""
    best, j = 0, 0
    for t, count in counts:
        while counts[j][0] < t - window:
            j += 1
        best = max(best, count - counts[j][1])
    return best


def idle(emulator: EmulatorProcess, iterations: int, tracking_url: str, workdir: Path) -> dict:
    """``iterations`` polls with nothing new: requests per iteration, RSS after 10 and at the end."""
    port = free_port()
    config = write_config(
        workdir / "idle.cfg",
        emulator.url,
        tracking_url,
        interval=0.01,
        prometheus_port=port,
        lease_seconds=60,
        syncers={"bench": {}},
    )
    emulator.reset_requests()
    log_path = workdir / "idle.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airflow_provider_databand_dbt.cli",
                "monitor",
                "--config",
                str(config),
                "--number-of-iterations",
                str(iterations),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=monitor_env(),
        )
        samples: list[tuple[float, float]] = []
        while proc.poll() is None:
            try:
                metrics = scrape(port)
            except OSError:
                time.sleep(0.05)
                continue
            done = metrics.get(("databand_dbt_monitor_iterations_total", ()), 0)
            samples.append((done, metrics[("process_resident_memory_bytes", ())]))
            time.sleep(0.05)
        if proc.wait() != 0:
            raise SystemExit(f"idle monitor failed:\n{log_path.read_text()[-3000:]}")
    first = next((rss, done) for done, rss in samples if done >= 10)
    last = max(samples)
    requests = emulator.requests()
    return {
        "iterations": iterations,
        "requests": len(requests),
        "requests_per_iteration": len(requests) / iterations,
        "non_list_requests": sum(1 for r in requests if not r["path"].endswith("/runs/")),
        "rss_start_mb": first[0] / 2**20,
        "rss_start_at_iteration": first[1],
        "rss_end_mb": last[1] / 2**20,
        "rss_end_at_iteration": last[0],
    }


BACKFILL_ACCOUNT_ID = 2
BACKFILL_JOB_ID = 900
ONE_STEP = ["dbt run --exclude customer_ltv_forecast+"]  # one dbt step of healthy_run: manifest + run_results


def backfill(emulator: EmulatorProcess, runs: int, artifacts: Path, workdir: Path) -> dict:
    """A first start with a backfill window over ``runs`` finished one-step runs of an account of their own."""
    from airflow_provider_databand_dbt.testing.emulator import DEMO_TOKEN

    emulator.call("POST", "accounts", {"account_id": BACKFILL_ACCOUNT_ID, "token": DEMO_TOKEN, "name": "Backfill"})
    emulator.call("POST", "jobs", {"account_id": BACKFILL_ACCOUNT_ID, "job_id": BACKFILL_JOB_ID, "name": "One step"})
    emulator.call(
        "POST",
        "runs",
        {
            "account_id": BACKFILL_ACCOUNT_ID,
            "job_id": BACKFILL_JOB_ID,
            "count": runs,
            "status": "success",
            "artifacts_dir": str(artifacts),
            "steps_override": ONE_STEP,
        },
    )
    syncer = {"account_id": BACKFILL_ACCOUNT_ID, "backfill": "1d", "max_requests_per_minute": UNBOUNDED}
    config = write_config(
        workdir / "backfill.cfg",
        emulator.url,
        f"sqlite:///{workdir / 'backfill.db'}",
        interval=1,
        syncers={"bench": syncer},
    )
    emulator.reset_requests()
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow_provider_databand_dbt.cli",
            "monitor",
            "--config",
            str(config),
            "--number-of-iterations",
            "1",
        ],
        capture_output=True,
        text=True,
        env=monitor_env(),
        check=False,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"backfill monitor failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    requests = emulator.requests()
    artifact_requests = sum(1 for r in requests if "/artifacts/" in r["path"])
    list_pages = sum(1 for r in requests if r["path"].endswith("/runs/"))
    run_gets = sum(1 for r in requests if r["path"].rstrip("/").split("/")[-2] == "runs")
    return {
        "runs": runs,
        "requests": len(requests),
        "requests_per_run": len(requests) / runs,
        "artifacts": artifact_requests,
        "list_pages": list_pages,
        "run_gets": run_gets,
        "lookups": len(requests) - artifact_requests - list_pages - run_gets,
        "floor_per_run": (artifact_requests + list_pages) / runs,
        "process_wall_seconds": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--catch-up", type=int, default=1_000)
    parser.add_argument("--baseline-runs", type=int, help="runs collected by the baseline (default: --catch-up)")
    parser.add_argument(
        "--artifacts",
        choices=("full", "small"),
        default="full",
        help="the scenario's real artifacts whole (default), or cut to 3 results per step",
    )
    parser.add_argument("--idle-iterations", type=int, default=1_000)
    parser.add_argument("--full-backfill", action="store_true", help="also backfill all runs into a fresh store")
    parser.add_argument("--tracking-url", help="store for the monitor (default: a fresh SQLite file)")
    parser.add_argument("--backfill-runs", type=int, default=300, help="one-step runs of the backfill count")
    parser.add_argument(
        "--polling-only",
        action="store_true",
        help="only the request counts: the one-step backfill and the idle iterations",
    )
    args = parser.parse_args()
    if args.polling_only:
        args.runs = 0

    DATA_DIR.mkdir(exist_ok=True)
    artifacts = (
        small_artifacts(DATA_DIR / "monitor_small_artifacts")
        if args.artifacts == "small"
        else ARTIFACTS_DIR / "healthy_run"
    )
    baseline_runs = args.baseline_runs or args.catch_up
    results: dict = {"jobs": args.jobs, "load_average": os.getloadavg()[0], "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as tmp:
        workdir = Path(tmp)
        tracking_url = args.tracking_url or f"sqlite:///{workdir / 'tracking.db'}"
        emulator = EmulatorProcess()
        try:
            started = time.perf_counter()
            results["backfill"] = backfill(
                emulator, args.backfill_runs, small_artifacts(DATA_DIR / "monitor_small_artifacts"), workdir
            )
            print("backfill  ", _fmt(results["backfill"]))
            if args.polling_only:
                results["idle"] = idle(emulator, args.idle_iterations, tracking_url, workdir)
                print("idle      ", _fmt(results["idle"]))
                _print_polling(results)
                return
            run_ids = populate(emulator, args.jobs, args.runs, artifacts)
            results["runs"] = len(run_ids)
            print(f"emulator: {args.jobs} jobs, {len(run_ids)} runs ({time.perf_counter() - started:.1f} s to add)")
            results["baseline"] = baseline(emulator, run_ids[-baseline_runs:], workdir)
            print("baseline  ", _fmt(results["baseline"]))
            results["catch_up"] = catch_up(emulator, run_ids, args.catch_up, tracking_url, workdir)
            print("catch-up  ", _fmt(results["catch_up"]))
            results["idle"] = idle(emulator, args.idle_iterations, tracking_url, workdir)
            print("idle      ", _fmt(results["idle"]))
            results["catch_up_unbounded"] = catch_up(
                emulator, run_ids, args.catch_up, f"sqlite:///{workdir / 'unbounded.db'}", workdir, budget=UNBOUNDED
            )
            print("unbounded ", _fmt(results["catch_up_unbounded"]))
            if args.full_backfill:
                full_url = f"sqlite:///{workdir / 'full.db'}"
                results["full_backfill"] = catch_up(
                    emulator, run_ids, len(run_ids), full_url, workdir, full_backfill=True
                )
                print("backfill  ", _fmt(results["full_backfill"]))
        finally:
            emulator.stop()
    ratio = results["catch_up"]["runs_per_second"] / results["baseline"]["runs_per_second"]
    unbounded = results["catch_up_unbounded"]["runs_per_second"] / results["baseline"]["runs_per_second"]
    print(
        f"\ncatch-up vs baseline: {ratio:.2f}x the runs/s of a plain collect loop within the default budget, "
        f"{unbounded:.2f}x without a budget; "
        f"{results['catch_up']['busiest_60s_window']} requests in the busiest 60 s (budget {DEFAULT_BUDGET}); "
        f"{args.catch_up} runs in {results['catch_up']['seconds']:.1f} s (target < 120 s)"
    )
    _print_polling(results)


def _print_polling(results: dict) -> None:
    """The request counts, and every result as JSON in benchmarks/.data/bench_monitor.json."""
    fill = results["backfill"]
    print(
        f"backfill of {fill['runs']} one-step runs: {fill['requests_per_run']:.3f} requests per run (target about "
        f"2.0; floor {fill['floor_per_run']:.3f} = artifacts + list pages), {fill['run_gets']} GETs of a run, "
        f"{fill['lookups']} lookups"
    )
    print(
        f"idle: {results['idle']['requests_per_iteration']:.3f} requests per iteration (target 1); RSS "
        f"{results['idle']['rss_start_mb']:.1f} MB -> {results['idle']['rss_end_mb']:.1f} MB"
    )
    (DATA_DIR / "bench_monitor.json").write_text(json.dumps(results, indent=2))


def _fmt(values: dict) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


if __name__ == "__main__":
    main()
