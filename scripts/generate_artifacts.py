#!/usr/bin/env python
"""Produce the real dbt artifacts that the local dbt Cloud API emulator serves.

Runs dbt-core (1.10, adapter duckdb) on the small project in ``tests/dbt_project`` once per
step of each *scenario* (a scenario mimics one dbt Cloud job run), and copies the artifacts
each step wrote into ``airflow_provider_databand_dbt/testing/artifacts/<scenario>/step_<i>/``.
It also writes ``airflow_provider_databand_dbt/testing/artifacts/scenarios.json``: the run and
step layout for the emulator, plus an ``expected`` block per scenario whose counts and
unique_ids are computed from the produced artifacts (never typed by hand), for tests to assert.

Usage (from the repository root)::

    python scripts/generate_artifacts.py            # regenerate everything
    python scripts/generate_artifacts.py --check    # only check the committed files (no dbt)

dbt runs in a virtualenv at ``${DBT_VENV:-.cache/dbt-venv}``, created with
``pip install 'dbt-core==1.10.*' 'dbt-duckdb==1.10.*'`` when it has no ``bin/dbt`` yet.

Determinism: the seed data is fixed, dbt runs with one thread (stable node order), in a
working directory whose path does not depend on the run, with the profile found in the
project directory (so ``args`` in run_results holds no temporary path), and the source load
times are relative to now (stable freshness statuses). What still differs on every
regeneration: ``generated_at``/``invocation_started_at``/``invocation_id`` in the artifacts'
metadata, timings (``execution_time``, ``timing``, ``duration_seconds``), snapshot
``dbt_valid_from`` values and the freshness ``max_loaded_at``/``snapshotted_at`` times.
The artifacts are copied byte for byte as dbt wrote them.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
PROJECT_DIR = REPO_ROOT / "tests" / "dbt_project"
ARTIFACTS_DIR = REPO_ROOT / "airflow_provider_databand_dbt" / "testing" / "artifacts"
SCENARIOS_FILE = ARTIFACTS_DIR / "scenarios.json"
DEFAULT_VENV = REPO_ROOT / ".cache" / "dbt-venv"
PIP_REQUIREMENTS = ["dbt-core==1.10.*", "dbt-duckdb==1.10.*"]

# Files dbt may write into target/ that the emulator serves, in this order.
ARTIFACT_NAMES = ("manifest.json", "run_results.json", "sources.json")

# Nodes that the healthy run leaves out: the model that errors at runtime with its children
# (and their tests), the failing test and the warning test.
ERRORING_MODEL_SELECTOR = "customer_ltv_forecast+"
FAILING_TESTS = ("assert_revenue_by_payment_method_is_positive", "accepted_payment_methods")

CLONE = "Clone git repository"
PROFILE = "Create profile from connection DuckDB"

# Step names are dbt Cloud's: "Invoke dbt with `<command>`" for dbt steps.
# Each step: (name, dbt arguments or None, kind, expected status). kind is "clone", "profile",
# "skip" (a dbt step that is listed but not run: there are no packages to install) or "dbt".
SCENARIOS: list[dict[str, Any]] = [
    {
        "name": "nightly_build",
        "description": "Nightly job that ends in error: a model fails at runtime, a test fails.",
        "steps": [
            (CLONE, None, "clone", "success"),
            (PROFILE, None, "profile", "success"),
            ("Invoke dbt with `dbt deps`", ["deps"], "skip", "success"),
            ("Invoke dbt with `dbt source freshness`", ["source", "freshness"], "dbt", "success"),
            ("Invoke dbt with `dbt build`", ["build"], "dbt", "error"),
        ],
    },
    {
        "name": "healthy_run",
        "description": "Job that succeeds: seed, run and test without the broken nodes.",
        "steps": [
            (CLONE, None, "clone", "success"),
            (PROFILE, None, "profile", "success"),
            ("Invoke dbt with `dbt seed`", ["seed"], "dbt", "success"),
            (
                f"Invoke dbt with `dbt run --exclude {ERRORING_MODEL_SELECTOR}`",
                ["run", "--exclude", ERRORING_MODEL_SELECTOR],
                "dbt",
                "success",
            ),
            (
                f"Invoke dbt with `dbt test --exclude {ERRORING_MODEL_SELECTOR} {' '.join(FAILING_TESTS)}`",
                ["test", "--exclude", ERRORING_MODEL_SELECTOR, *FAILING_TESTS],
                "dbt",
                "success",
            ),
        ],
    },
]


class GenerationError(RuntimeError):
    """The artifacts could not be produced, or do not look as the scenarios need."""


# --------------------------------------------------------------------------- dbt install


def ensure_dbt(venv: Path) -> Path:
    """Return the ``dbt`` executable of ``venv``, creating the virtualenv if needed."""
    dbt = venv / "bin" / "dbt"
    if dbt.exists():
        return dbt
    print(f"creating virtualenv {venv} with {' '.join(PIP_REQUIREMENTS)}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *PIP_REQUIREMENTS],
        check=True,
    )
    if not dbt.exists():
        raise GenerationError(f"{dbt} is missing after installing {PIP_REQUIREMENTS}")
    return dbt


def dbt_env() -> dict[str, str]:
    """Environment for dbt: offline, no colours, nothing from the caller's dbt settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env.update(
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_VERSION_CHECK="false",
        DBT_USE_COLORS="false",
        DBT_PARTIAL_PARSE="true",
        DO_NOT_TRACK="1",
        # dbt iterates over sets when writing some artifact sections: a fixed hash seed keeps
        # the key order stable between regenerations.
        PYTHONHASHSEED="0",
    )
    return env


# --------------------------------------------------------------------------- running


def clone_project(repo_dir: Path) -> None:
    """The "Clone git repository" step: a clean copy of the project without the profile."""
    shutil.copytree(
        PROJECT_DIR,
        repo_dir,
        ignore=shutil.ignore_patterns(
            "target", "logs", "dbt_packages", "*.duckdb", "*.wal", "profiles.yml", "README.md"
        ),
    )


def create_profile(repo_dir: Path) -> None:
    """The "Create profile" step: dbt finds ``profiles.yml`` in the working directory."""
    shutil.copyfile(PROJECT_DIR / "profiles.yml", repo_dir / "profiles.yml")


def run_dbt(dbt: Path, args: list[str], repo_dir: Path, log_file: Path) -> int:
    target = repo_dir / "target"
    for name in ARTIFACT_NAMES:  # so that only what this step writes is picked up
        (target / name).unlink(missing_ok=True)
    with log_file.open("a", encoding="utf-8") as log:
        log.write(f"\n$ dbt {' '.join(args)}\n")
        log.flush()
        proc = subprocess.run(
            [str(dbt), *args],
            cwd=repo_dir,
            env=dbt_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return proc.returncode


def run_scenario(dbt: Path, scenario: dict[str, Any], workdir: Path) -> dict[str, Any]:
    name = scenario["name"]
    scenario_work = workdir / name
    if scenario_work.exists():
        shutil.rmtree(scenario_work)
    scenario_work.mkdir(parents=True)
    repo_dir = scenario_work / "repo"
    log_file = scenario_work / "dbt.log"
    out_dir = ARTIFACTS_DIR / name
    if out_dir.exists():
        shutil.rmtree(out_dir)

    steps: list[dict[str, Any]] = []
    for index, (step_name, args, kind, expected_status) in enumerate(scenario["steps"], start=1):
        started = time.monotonic()
        artifacts: list[str] = []
        status = "success"
        if kind == "clone":
            clone_project(repo_dir)
        elif kind == "profile":
            create_profile(repo_dir)
        elif kind == "skip":
            if (repo_dir / "packages.yml").exists() or (repo_dir / "dependencies.yml").exists():
                raise GenerationError("the project grew dependencies: run `dbt deps` for real")
        else:
            rc = run_dbt(dbt, args, repo_dir, log_file)
            status = "success" if rc == 0 else "error"
            step_dir = out_dir / f"step_{index}"
            step_dir.mkdir(parents=True)
            for artifact in ARTIFACT_NAMES:
                src = repo_dir / "target" / artifact
                if src.exists():
                    shutil.copyfile(src, step_dir / artifact)  # dbt's bytes, unchanged
                    artifacts.append(artifact)
        duration = round(time.monotonic() - started, 3)
        print(f"  {name} step {index} {step_name}: {status} ({duration}s) {artifacts}", flush=True)
        if status != expected_status:
            tail = log_file.read_text(encoding="utf-8")[-4000:] if log_file.exists() else ""
            raise GenerationError(
                f"{name} step {index} ({step_name}) ended {status}, expected {expected_status}; "
                f"dbt log: {log_file}\n{tail}"
            )
        steps.append(
            {
                "index": index,
                "name": step_name,
                "command": None if args is None else "dbt " + " ".join(args),
                "status": status,
                "duration_seconds": duration,
                "artifacts": artifacts,
            }
        )

    failed = [s for s in steps if s["status"] == "error"]
    entry: dict[str, Any] = {
        "name": name,
        "description": scenario["description"],
        "run_status": "error" if failed else "success",
        "status_message": None,
        "steps": steps,
    }
    entry["expected"] = compute_expected(out_dir, steps)
    if failed:
        first = failed[0]
        counts = entry["expected"]["steps"][str(first["index"])]["by_status"]
        problems = ", ".join(f"{counts[s]} {s}" for s in ("error", "fail", "runtime error") if counts.get(s))
        entry["status_message"] = f"Step {first['index']} ({first['name']}) failed: {problems}"
    return entry


# --------------------------------------------------------------------------- expectations


def load_json(path: Path) -> Any:
    with path.open("rb") as fh:
        return json.load(fh)


def compute_expected(out_dir: Path, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and unique_ids that tests can assert, read back from the produced artifacts."""
    per_step: dict[str, Any] = {}
    statuses: dict[str, set[str]] = collections.defaultdict(set)
    freshness: dict[str, list[str]] = collections.defaultdict(list)
    incremental: set[str] = set()
    dbt_version = None

    for step in steps:
        if not step["artifacts"]:
            continue
        step_dir = out_dir / f"step_{step['index']}"
        manifest = load_json(step_dir / "manifest.json")
        dbt_version = manifest["metadata"]["dbt_version"]
        incremental.update(
            uid
            for uid, node in manifest["nodes"].items()
            if node.get("config", {}).get("materialized") == "incremental"
        )
        if "run_results.json" in step["artifacts"]:
            results_file = "run_results.json"
        else:
            results_file = "sources.json"
        results = load_json(step_dir / results_file)["results"]
        by_status = collections.Counter(r["status"] for r in results)
        by_type = collections.Counter(r["unique_id"].split(".", 1)[0] for r in results)
        per_step[str(step["index"])] = {
            "results_file": results_file,
            "total": len(results),
            "by_status": dict(sorted(by_status.items())),
            "by_resource_type": dict(sorted(by_type.items())),
        }
        for r in results:
            statuses[r["status"]].add(r["unique_id"])
        if "sources.json" in step["artifacts"]:
            for r in load_json(step_dir / "sources.json")["results"]:
                freshness[r["status"]].append(r["unique_id"])

    def ids(status: str, prefix: str) -> list[str]:
        return sorted(u for u in statuses.get(status, ()) if u.startswith(prefix))

    def one(values: list[str]) -> str | None:
        if len(values) > 1:
            raise GenerationError(f"expected at most one node, got {values}")
        return values[0] if values else None

    seen = set().union(*statuses.values()) if statuses else set()
    return {
        "dbt_version": dbt_version,
        "steps": per_step,
        "erroring_model": one(ids("error", "model.")),
        "skipped_models": ids("skipped", "model."),
        "skipped_nodes": sorted(statuses.get("skipped", ())),
        "failing_test": one(ids("fail", "test.")),
        "warn_test": one(ids("warn", "test.")),
        "unit_test": one(sorted(u for u in seen if u.startswith("unit_test."))),
        "snapshot": one(sorted(u for u in seen if u.startswith("snapshot."))),
        "incremental_model": one(sorted(incremental & seen)),
        "hooks": sorted(u for u in seen if u.startswith("operation.")),
        "freshness": {k: sorted(v) for k, v in sorted(freshness.items())},
    }


def sanity_check(entries: list[dict[str, Any]]) -> None:
    """Fail loudly if the project drifted away from what the scenarios are meant to show."""
    by_name = {e["name"]: e for e in entries}
    nightly = by_name["nightly_build"]["expected"]
    for key in ("erroring_model", "failing_test", "warn_test", "unit_test", "snapshot", "incremental_model"):
        if not nightly[key]:
            raise GenerationError(f"nightly_build has no {key}")
    if not nightly["skipped_models"]:
        raise GenerationError("nightly_build has no skipped model")
    if not nightly["freshness"].get("pass") or not (
        nightly["freshness"].get("warn") or nightly["freshness"].get("error")
    ):
        raise GenerationError(f"freshness should pass and warn: {nightly['freshness']}")
    healthy = by_name["healthy_run"]["expected"]
    for step in healthy["steps"].values():
        if set(step["by_status"]) - {"success", "pass"}:
            raise GenerationError(f"healthy_run is not healthy: {step}")


# --------------------------------------------------------------------------- check


def check() -> int:
    """Verify that the committed files exist and parse as JSON (no dbt needed)."""
    problems: list[str] = []
    try:
        scenarios = load_json(SCENARIOS_FILE)
    except (OSError, ValueError) as exc:
        print(f"{SCENARIOS_FILE}: {exc}", file=sys.stderr)
        return 1
    count = 0
    for scenario in scenarios.get("scenarios", []):
        for step in scenario["steps"]:
            for artifact in step["artifacts"]:
                path = ARTIFACTS_DIR / scenario["name"] / f"step_{step['index']}" / artifact
                try:
                    load_json(path)
                    count += 1
                except (OSError, ValueError) as exc:
                    problems.append(f"{path}: {exc}")
    if not count:
        problems.append(f"{SCENARIOS_FILE} lists no artifact")
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"ok: {SCENARIOS_FILE.name} and {count} artifacts parse")
    return 1 if problems else 0


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check the committed files")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "databand-dbt-artifacts",
        help="where the project copies run (emptied per scenario); default: %(default)s",
    )
    args = parser.parse_args(argv)
    if args.check:
        return check()

    venv = Path(os.environ.get("DBT_VENV") or DEFAULT_VENV)
    if not venv.is_absolute():
        venv = REPO_ROOT / venv
    dbt = ensure_dbt(venv)
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    entries = []
    try:
        for scenario in SCENARIOS:
            print(f"scenario {scenario['name']}", flush=True)
            entries.append(run_scenario(dbt, scenario, args.workdir))
        sanity_check(entries)
    except GenerationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    document = {
        "generated_by": "scripts/generate_artifacts.py",
        "dbt_project": "tests/dbt_project",
        "dbt_version": entries[0]["expected"]["dbt_version"],
        "scenarios": entries,
    }
    SCENARIOS_FILE.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {SCENARIOS_FILE.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
