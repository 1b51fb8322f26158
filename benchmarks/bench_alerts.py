#!/usr/bin/env python
"""Benchmark: the alert rules' precision and recall on a synthetic history, and what they cost per stored run.

Generates ``--runs`` runs (default 10,000) over ``--pipelines`` dbt Cloud jobs (see ``alert_history.py``:
seasonal noise plus injected failures, recoveries, freshness problems, duration regressions and row
count anomalies, with the ground truth as episodes) and stores them one by one, in time order, through
the real tracking service: the store, then the real ``AlertSink`` with the default rule settings and
a publish that records the notifications (the outbox is not part of this measure).

Per rule: precision = incidents opened inside an injected episode of the same subject / incidents opened;
recall = episodes during which the subject had an open incident / episodes. Targets: >= 0.95 both.
Cost: the sink's time per stored run (history reads, rules, incident writes, one transaction) against
the store's own save in the same run (the baseline), and the total. Target: sink <= 50 ms per run.

Usage::

    python benchmarks/bench_alerts.py [--runs 10000] [--pipelines 10] [--season 0.25] [--noise 0.1] [--postgres URL]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alert_history import History, generate  # noqa: E402

from airflow_provider_databand_dbt.alerts.settings import ALL_RULES, RuleSettings  # noqa: E402
from airflow_provider_databand_dbt.alerts.sink import AlertSink  # noqa: E402
from airflow_provider_databand_dbt.sinks.service import TrackingService  # noqa: E402
from airflow_provider_databand_dbt.tracking.store import TrackingStore  # noqa: E402


def replay(url: str, history: History, k: float = 1.5) -> tuple[list, list[float], list[float]]:
    """Store every run through the service + AlertSink; the notifications, sink seconds and total seconds."""
    notes: list = []
    store = TrackingStore(url)
    sink = AlertSink(lambda conn, batch: notes.extend(batch), settings=RuleSettings(k=k, notify_updates=True))
    service = TrackingService(store, [sink])
    bound = service.sinks[0]
    sink_seconds: list[float] = []
    total_seconds: list[float] = []
    for i, report in enumerate(history.runs, 1):
        started = time.perf_counter()
        service.record(report)
        total_seconds.append(time.perf_counter() - started)
        sink_seconds.append(bound.last_seconds or 0.0)
        if i % 1000 == 0:
            print(f"  {i} runs stored, {len(notes)} notifications", flush=True)
    assert not service.sink_failures, service.sink_failures
    store.close()
    return notes, sink_seconds, total_seconds


def score(history: History, notes: list, show: bool = False) -> dict[str, tuple[int, int, int, int]]:
    """Per rule: (true opened, opened, episodes detected, episodes); ``show`` prints each miss."""
    episodes = defaultdict(list)
    for episode in history.episodes:
        episodes[episode.subject].append(set(episode.run_ids))
    opened_ok: dict[str, int] = defaultdict(int)
    opened: dict[str, int] = defaultdict(int)
    seen_runs: dict[tuple, set[int]] = defaultdict(set)
    for note in notes:
        subject = (note.rule, note.pipeline.job_id, note.node_unique_id)
        if note.change == "resolved":
            continue
        seen_runs[subject].add(note.run_id)
        if note.change == "opened":
            opened[note.rule] += 1
            if any(note.run_id in runs for runs in episodes.get(subject, ())):
                opened_ok[note.rule] += 1
            elif show:
                print(f"  false positive: run {note.run_id} {subject}: {note.title} - {note.message}")
    detected: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for subject, spans in episodes.items():
        for runs in spans:
            total[subject[0]] += 1
            if runs & seen_runs.get(subject, set()):
                detected[subject[0]] += 1
            elif show:
                print(f"  missed: runs {sorted(runs)} {subject}")
    return {rule: (opened_ok[rule], opened[rule], detected[rule], total[rule]) for rule in ALL_RULES}


def report(name: str, history: History, notes: list, sink_s: list[float], total_s: list[float], show: bool) -> None:
    print(f"\n== {name}: {len(history.runs)} runs, {len(history.episodes)} injected episodes")
    print(f"{'rule':22} {'precision':>10} {'recall':>8}   opened(true/all)  episodes(found/all)")
    for rule, (tp, opened, found, episodes) in score(history, notes, show).items():
        precision = tp / opened if opened else float("nan")
        recall = found / episodes if episodes else float("nan")
        print(f"{rule:22} {precision:10.3f} {recall:8.3f}   {tp:6}/{opened:<6}      {found:6}/{episodes}")
    store_s = [t - s for t, s in zip(total_s, sink_s)]
    for label, values in (("sink (alerts)", sink_s), ("store (baseline)", store_s), ("store + sink", total_s)):
        ms = sorted(v * 1000 for v in values)
        print(
            f"{label:17} mean {statistics.fmean(ms):6.2f} ms  p50 {ms[len(ms) // 2]:6.2f}  "
            f"p95 {ms[int(len(ms) * 0.95)]:6.2f}  max {ms[-1]:7.2f}"
        )
    print(f"sink / store ratio: {statistics.fmean(sink_s) / statistics.fmean(store_s):.2f}")
    last = sorted(s * 1000 for s in sink_s[-1000:])
    print(f"sink over the last 1000 runs (store full): mean {statistics.fmean(last):.2f} ms, p95 {last[949]:.2f} ms")


def _postgres(server: str):
    import sqlalchemy as sa

    name = f"bench_alerts_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--pipelines", type=int, default=10)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--season", type=float, default=0.25, help="amplitude of the daily cycle (0.25: +-25%%)")
    parser.add_argument("--noise", type=float, default=0.10, help="sigma of the log-normal noise")
    parser.add_argument("--k", type=float, default=1.5, help="the rules' k (default: the rules' default)")
    parser.add_argument("--show-misses", action="store_true", help="print each false positive and missed episode")
    parser.add_argument("--postgres", help="a PostgreSQL server URL where a database may be created")
    args = parser.parse_args()
    history = generate(args.runs, args.pipelines, args.seed, season=args.season, noise=args.noise)
    with tempfile.TemporaryDirectory() as tmp:
        report("SQLite", history, *replay(f"sqlite:///{tmp}/alerts.db", history, args.k), args.show_misses)
    if args.postgres:
        url, drop = _postgres(args.postgres)
        try:
            report("PostgreSQL", history, *replay(url, history, args.k), args.show_misses)
        finally:
            drop()


if __name__ == "__main__":
    main()
