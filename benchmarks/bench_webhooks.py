#!/usr/bin/env python
"""Benchmark the monitor's webhook receiver: acknowledgement latency and event-to-tracked delay.

The emulator runs in this process with N finished runs (small real artifacts); the monitor runs as
``databand-dbt monitor`` in its own process on a fresh SQLite store (or ``--tracking-url``), polling
only once an hour, so every run is tracked through its webhook. N signed ``job.run.completed``
deliveries are sent from ``--concurrency`` connections at once.

Printed:
1. ``baseline``: the same N inserts straight into a fresh store's webhook queue, one after another,
   no HTTP: what durability alone costs on this disk (WAL checkpoints included), p50/p99.
2. ``acknowledgement``: p50/p99/max of the HTTP answer (2xx = durably queued); target p99 <= 100 ms.
3. ``event-to-tracked``: received -> run stored, p50/p99 from the queue rows, and the time to drain
   (a burst is bound by the syncer's request budget: about 4 requests per run); then ``--quiet-events``
   (20) single deliveries, each waited for: the delay of one event on an idle monitor.

Usage::

    python benchmarks/bench_webhooks.py                 # 500 deliveries, 8 connections
    python benchmarks/bench_webhooks.py --events 2000 --concurrency 32
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "monitor"))  # shared helpers: config files, signing, small artifacts

import sqlalchemy as sa  # noqa: E402
from monitor_helpers import MonitorProcess, free_port, monitor_env, small_artifacts, wait_for  # noqa: E402
from webhook_helpers import SECRET, SECRET_ENV, deliver, payload, webhook_config  # noqa: E402

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, HOURLY_JOB_ID, DbtCloudEmulator  # noqa: E402
from airflow_provider_databand_dbt.tracking.schema import webhook_events  # noqa: E402
from airflow_provider_databand_dbt.tracking.store import TrackingStore  # noqa: E402
from airflow_provider_databand_dbt.tracking.webhook_events import WebhookEvent, WebhookQueue  # noqa: E402


def quantile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def describe(values: list[float]) -> str:
    return (
        f"p50 {quantile(values, 0.5) * 1000:7.1f} ms   p99 {quantile(values, 0.99) * 1000:7.1f} ms   "
        f"max {max(values) * 1000:7.1f} ms"
    )


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def baseline(url: str, events: int) -> list[float]:
    """Inserts straight into the queue of a fresh store, one at a time: the floor under the HTTP answer."""
    with TrackingStore(url) as store:
        queue = WebhookQueue(store)
        items = [WebhookEvent("bench", f"wev_{n}", "job.run.completed", "h", 1, n + 1) for n in range(events)]
        return [timed(functools.partial(queue.enqueue, item)) for item in items]


def done_count(store: TrackingStore) -> int:
    with store.engine.connect() as conn:
        query = sa.select(sa.func.count()).where(webhook_events.c.state.in_(("done", "failed")))
        return int(conn.execute(query).scalar() or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8, help="deliveries in flight at once")
    parser.add_argument("--tracking-url", help="store for the monitor (default: a fresh SQLite file)")
    parser.add_argument("--quiet-events", type=int, default=20, help="single deliveries on an idle monitor")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp, DbtCloudEmulator() as emulator:
        work = Path(tmp)
        floor = baseline(f"sqlite:///{work / 'baseline.db'}", args.events)
        url = args.tracking_url or f"sqlite:///{work / 'tracking.db'}"
        small = small_artifacts(work / "artifacts")
        run_ids = emulator.add_runs(
            DEMO_ACCOUNT_ID, HOURLY_JOB_ID, args.events + args.quiet_events, status="success", artifacts_dir=str(small)
        )
        quiet_ids = run_ids[args.events :]
        run_ids = run_ids[: args.events]
        port = free_port()
        config = webhook_config(work / "monitor.cfg", emulator.url, url, port)
        TrackingStore(url).close()  # schema first, so the monitor's start is not measured
        with MonitorProcess(config, env=monitor_env(**{SECRET_ENV: SECRET})) as monitor, TrackingStore(url) as store:
            monitor.wait_for_log("receiving dbt Cloud webhooks for syncer main")
            events = [payload("job.run.completed", run_id) for run_id in run_ids]
            answers: list[tuple[int, float]] = []
            lock = threading.Lock()

            def send(event: dict) -> None:
                started = time.perf_counter()
                status, _ = deliver(port, event)
                with lock:
                    answers.append((status, time.perf_counter() - started))

            sent_at = time.monotonic()
            with ThreadPoolExecutor(args.concurrency) as pool:
                list(pool.map(send, events))
            acked_in = time.monotonic() - sent_at
            refused = [status for status, _ in answers if status != 200]

            wait_for(lambda: done_count(store) >= args.events, 600, "every event tracked", every=0.2)
            drained_in = time.monotonic() - sent_at
            with store.engine.connect() as conn:
                rows = conn.execute(sa.select(webhook_events.c.received_at, webhook_events.c.processed_at)).all()
            quiet = []
            for number, run_id in enumerate(quiet_ids, start=1):
                started = time.monotonic()
                deliver(port, payload("job.run.completed", run_id))
                wait_for(lambda n=number: done_count(store) >= args.events + n, 60, "a single event", every=0.01)
                quiet.append(time.monotonic() - started)
            monitor.terminate()
        delays = [(processed - received).total_seconds() for received, processed in rows]
        latencies = [seconds for _, seconds in answers]
        print(f"{args.events} signed deliveries, {args.concurrency} at a time, store {store.dialect}")
        print(f"  baseline (queue insert, no HTTP):  {describe(floor)}")
        print(f"  acknowledgement (HTTP 2xx):        {describe(latencies)}   target p99 <= 100 ms")
        print(
            f"  ratio p99 ack / baseline p99:      {quantile(latencies, 0.99) / quantile(floor, 0.99):.1f}x; "
            f"refused {len(refused)}; all acknowledged in {acked_in:.1f} s"
        )
        print(
            f"  event-to-tracked:                  p50 {statistics.median(delays):.2f} s   "
            f"p99 {quantile(delays, 0.99):.2f} s"
            f"   all {args.events} tracked in {drained_in:.1f} s ({args.events / drained_in:.1f} runs/s)"
        )

        if quiet:
            print(
                f"  one event on an idle monitor:      {describe(quiet)}   "
                f"(received -> tracked, {len(quiet)} deliveries one by one)"
            )


if __name__ == "__main__":
    main()
