"""Synthetic history for ``bench_alerts.py``: pipelines of hourly runs with seasonal noise and injected incidents.

Every pipeline has a source freshness check, a seed, a chain of models and a test per model. Each
run's node durations and row counts follow a daily cycle (amplitude ``SEASON``) times random noise
(log-normal, ``NOISE``). On top, with small probabilities per run, incidents are injected; the
ground truth is the set of *episodes*: consecutive runs of one subject (rule, pipeline, node or run)
in which the injected condition holds.

- ``new_failure``: a model or test fails for 1-3 runs (its run fails; models downstream are skipped);
- ``run_failed``: every failed or cancelled run (a cancelled run is injected on its own too);
- ``source_freshness``: the source check warns or errors for 1-2 runs;
- ``duration_regression``: a model takes 3-5x its usual time for 1-2 runs, or the whole run (a slow
  start, not its nodes) takes 3-5x;
- ``row_count_anomaly``: a model writes 4-8x its usual rows, or 0-25% of them, for one run.

Injections start after a warm-up of ``WARMUP`` runs (the rules need 5 earlier runs) and never touch
the same subject twice within ``QUIET`` runs, so an episode is not hidden in the statistics of the last.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import msgspec

from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.testing.synthetic_runs import NodeSpec, build_report

SEASON = 0.25
NOISE = 0.10
WARMUP = 25
QUIET = 25
MODELS = 10
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
# Per run and pipeline: the chance that each kind of incident starts.
P_FAILURE = 0.008
P_CANCEL = 0.003
P_FRESHNESS = 0.004
P_NODE_SLOW = 0.006
P_RUN_SLOW = 0.003
P_ROWS = 0.006

Subject = tuple[str, int, "str | None"]
"""(rule, job id, node unique id or None)."""


class Episode(msgspec.Struct, frozen=True):
    subject: Subject
    run_ids: tuple[int, ...]


class History(msgspec.Struct, kw_only=True):
    runs: list[RunReport]
    episodes: list[Episode]


class _Pipeline:
    """One job's nodes with their usual durations and row counts, and what is injected now."""

    def __init__(self, job_id: int, rng: random.Random, season: float, noise: float) -> None:
        self.job_id = job_id
        self.rng = rng
        self.season = season
        self.noise = noise
        self.base_seconds = {f"m{i}": rng.uniform(3, 60) for i in range(MODELS)}
        self.base_rows = {f"m{i}": rng.randint(1_000, 2_000_000) for i in range(MODELS)}
        self.run_overhead = rng.uniform(30, 90)
        self.pending: dict[str, tuple[str, int, float]] = {}  # subject name -> (kind, runs left, factor)
        self.quiet_until: dict[str, int] = defaultdict(int)

    def inject(self, index: int) -> None:
        if index < WARMUP:
            return
        rng = self.rng
        choices = (
            (P_FAILURE, "fail", lambda: rng.choice([*self.base_seconds, *(f"t{i}" for i in range(MODELS))])),
            (P_CANCEL, "cancel", lambda: "run"),
            (P_FRESHNESS, "stale", lambda: "raw"),
            (P_NODE_SLOW, "slow", lambda: rng.choice(list(self.base_seconds))),
            (P_RUN_SLOW, "run_slow", lambda: "run"),
            (P_ROWS, "rows", lambda: rng.choice(list(self.base_rows))),
        )
        for chance, kind, pick in choices:
            if rng.random() >= chance:
                continue
            name = pick()
            key = f"{kind}:{name}"
            if (
                key in self.pending
                or self.quiet_until[key] > index
                or any(k.endswith(f":{name}") for k in self.pending)
            ):
                continue
            runs = {"fail": rng.randint(1, 3), "stale": rng.randint(1, 2), "slow": rng.randint(1, 2)}.get(kind, 1)
            factor = {
                "slow": rng.uniform(3, 5),
                "run_slow": rng.uniform(3, 5),
                "rows": rng.choice([rng.uniform(4, 8), rng.uniform(0, 0.25)]),
            }.get(kind, 1.0)
            self.pending[key] = (kind, runs, factor)
            self.quiet_until[key] = index + runs + QUIET

    def active(self, kind: str, name: str) -> float | None:
        entry = self.pending.get(f"{kind}:{name}")
        return entry[2] if entry else None

    def advance(self) -> None:
        for key, (kind, runs, factor) in list(self.pending.items()):
            if runs <= 1:
                del self.pending[key]
            else:
                self.pending[key] = (kind, runs - 1, factor)


def _noise(pipeline: _Pipeline, at: datetime) -> float:
    season = 1 + pipeline.season * math.sin(2 * math.pi * (at.hour + at.minute / 60) / 24)
    return season * math.exp(pipeline.rng.gauss(0, pipeline.noise))


def _run(pipeline: _Pipeline, run_id: int, at: datetime) -> tuple[RunReport, dict[Subject, bool]]:
    """One run, and per subject whether its condition holds in it (False: checked and fine)."""
    rng, job = pipeline.rng, pipeline.job_id
    truth: dict[Subject, bool] = {}
    nodes: list[NodeSpec] = []
    stale = pipeline.active("stale", "raw") is not None
    freshness = rng.choice(["warn", "error"]) if stale else "pass"
    nodes.append(NodeSpec(name="raw", resource_type="source", status=freshness, seconds=0.5))
    truth[("source_freshness", job, "source.shop.raw")] = stale
    nodes.append(NodeSpec(name="seed", resource_type="seed", seconds=2.0 * _noise(pipeline, at), rows=500))
    failed_upstream = False
    run_failed = False
    for i in range(MODELS):
        name = f"m{i}"
        uid = f"model.shop.{name}"
        parent = f"model.shop.m{i - 1}" if i else "seed.shop.seed"
        if failed_upstream:
            nodes.append(NodeSpec(name=name, status="skipped", depends_on=(parent,), seconds=0.0))
            nodes.append(NodeSpec(name=f"t{i}", resource_type="test", status="skipped", depends_on=(uid,), seconds=0.0))
            continue
        fails = pipeline.active("fail", name) is not None
        slow = pipeline.active("slow", name)
        rows_factor = pipeline.active("rows", name)
        seconds = pipeline.base_seconds[name] * _noise(pipeline, at) * (slow or 1.0)
        rows = int(pipeline.base_rows[name] * _noise(pipeline, at) * (rows_factor if rows_factor is not None else 1.0))
        status = "error" if fails else "success"
        nodes.append(
            NodeSpec(name=name, status=status, seconds=seconds, rows=None if fails else rows, depends_on=(parent,))
        )
        truth[("new_failure", job, uid)] = fails
        if not fails:
            truth[("duration_regression", job, uid)] = slow is not None
            truth[("row_count_anomaly", job, uid)] = rows_factor is not None
        failed_upstream = failed_upstream or fails
        run_failed = run_failed or fails
        test_fails = not fails and pipeline.active("fail", f"t{i}") is not None
        test_status = "skipped" if fails else ("fail" if test_fails else "pass")
        nodes.append(
            NodeSpec(
                name=f"t{i}",
                resource_type="test",
                status=test_status,
                depends_on=(uid,),
                seconds=0.4 * _noise(pipeline, at),
            )
        )
        if test_status != "skipped":
            truth[("new_failure", job, f"test.shop.t{i}")] = test_fails
        run_failed = run_failed or test_fails
    cancelled = not run_failed and pipeline.active("cancel", "run") is not None
    status = "error" if run_failed else ("cancelled" if cancelled else "success")
    truth[("run_failed", job, None)] = status != "success"
    slow_run = pipeline.active("run_slow", "run")
    duration = None
    if status == "success":
        work = sum(n.seconds for n in nodes) / 4  # four dbt threads
        duration = work + pipeline.run_overhead * _noise(pipeline, at) * (slow_run or 1.0)
        if slow_run:  # a slow start: the run, not its nodes, takes several times longer
            duration = (work + pipeline.run_overhead) * slow_run
        truth[("duration_regression", job, None)] = slow_run is not None
    report = build_report(run_id, job_id=job, status=status, nodes=nodes, created_at=at, duration_seconds=duration)
    return report, truth


def generate(runs: int, pipelines: int, seed: int = 14, *, season: float = SEASON, noise: float = NOISE) -> History:
    """``runs`` runs spread over ``pipelines`` jobs (hourly each, interleaved), in the order they happen."""
    rng = random.Random(seed)
    jobs = [_Pipeline(1000 + p, random.Random(rng.random()), season, noise) for p in range(pipelines)]
    reports: list[RunReport] = []
    open_spans: dict[Subject, list[int]] = {}
    episodes: list[Episode] = []
    for index in range(runs):
        pipeline = jobs[index % pipelines]
        per_pipeline = index // pipelines
        at = START + timedelta(hours=per_pipeline, minutes=7 * (index % pipelines))
        pipeline.inject(per_pipeline)
        report, truth = _run(pipeline, 100_000 + index, at)
        pipeline.advance()
        reports.append(report)
        for subject, holds in truth.items():
            if holds:
                open_spans.setdefault(subject, []).append(report.run_id)
            elif subject in open_spans:
                episodes.append(Episode(subject, tuple(open_spans.pop(subject))))
    episodes.extend(Episode(subject, tuple(ids)) for subject, ids in open_spans.items())
    return History(runs=reports, episodes=episodes)


def iter_subject_runs(history: History) -> Iterator[tuple[Subject, int]]:
    for episode in history.episodes:
        for run_id in episode.run_ids:
            yield episode.subject, run_id
