#!/usr/bin/env python
"""Benchmark: collecting a run with a huge manifest, our collector vs. what the Databand SDK did.

Generates synthetic artifacts of ~100 MB and ~300 MB by cloning the nodes of the real fixture
manifest (unique ids renamed, dependencies kept inside each clone) with one run_results entry
per cloned node, and serves them from the dbt Cloud API emulator running in its own process
as a run of the ``healthy_run`` job (steps 3-5 ``dbt seed``/``dbt run``/``dbt test`` have results).

Each contender runs in a fresh subprocess that measures its own wall time, CPU time (user +
system, steadier than wall time on a busy machine) and peak RSS (``ru_maxrss``, which includes
the file pages it touched through mmap):

* ``ours``: ``collect_data_from_dbt_cloud`` end to end into a fresh SQLite tracking store, with the
  seconds spent downloading, decoding, building NodeResults and storing.
* ``baseline``: what the original SDK did: for every run step ``requests.get(...).json()`` of
  run_results.json and manifest.json kept on the step dict, then a loop joining each result with
  its manifest node. Its "store" is one trivial sqlite3 row per node: the SDK instead serialized
  everything again and POSTed it to Databand, so the baseline is, if anything, flattered.
* ``ours-next-run``: the same, for the pipeline's next run: another run of the job is stored first (in a
  process of its own), so its nodes and definitions are known and only slim result rows are written. The
  issue's shape is a first run (``ours``); this steady state is reported beside it, never instead.
* ``baseline-gc-off``: the same with Python's cyclic garbage collector off (ours leaves it on; its
  report structs are not tracked by it): it shows how much of the gain is only that setting.
* ``baseline-sdk-report``: the SDK's fetching, then its report as it really sent it: the whole run, every
  step's manifest and run_results included, serialized to JSON and POSTed to the tracker
  (``tracker.log_dbt_metadata``), here a loopback server in its own process that discards the body. What the
  Databand server then did with it is not counted, so this is still a lower bound of the SDK's cost.

Two run shapes (``--shapes``): ``3step``, the issue's shape: the ``healthy_run`` job's three
steps each list 3 of every 4 nodes (~66 MB of run_results per step next to a ~300 MB manifest; the
SDK algorithm fetches and parses the manifest once per step, ours once per run), and ``1step``, one
``dbt build`` step with every result (one manifest for both), where the gain comes from decoding and
storing alone.

Usage::

    python benchmarks/bench_collect.py                 # 100 and 300 MB
    python benchmarks/bench_collect.py --sizes 50      # quicker
    python benchmarks/bench_collect.py --repeat 3      # best of 3 per contender

Data lands in ``benchmarks/.data/`` (gitignored) and is reused while the fixture is unchanged.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA_DIR = HERE / ".data"
FIXTURE = ROOT / "airflow_provider_databand_dbt" / "testing" / "artifacts" / "nightly_build" / "step_5"
CLONE = "__CLONE__"
ACCOUNT_ID = 1
# Run shapes: the job to run, its steps' dbt commands, and which cloned resource types each
# step's run_results.json lists.
_EVERY_TYPE = ("seed", "model", "snapshot", "test", "unit_test")
SHAPES = {
    # The shape: "Hourly models" (scenario healthy_run), steps 3, 4, 5 each write a run_results.json
    # listing 3 of every 4 nodes (~66 MB each next to a ~300 MB manifest; 3 x ~85,000 node results).
    "3step": (101, None, {3: _EVERY_TYPE, 4: _EVERY_TYPE, 5: _EVERY_TYPE}, 0.75),
    # "Nightly build" reduced to its `dbt build` step (index 5), which lists every node
    "1step": (100, ["dbt build"], {5: _EVERY_TYPE}, 1.0),
}


# --------------------------------------------------------------------------- data generation


def _templates(fixture: Path) -> tuple[dict, dict[str, str], dict[str, str], dict[str, str], dict[str, dict]]:
    """The base manifest, and per node JSON text with ``__CLONE__`` where a clone's suffix goes."""
    manifest = json.loads((fixture / "manifest.json").read_text())
    results = {r["unique_id"]: r for r in json.loads((fixture / "run_results.json").read_text())["results"]}
    cloned = list(manifest["nodes"]) + list(manifest["unit_tests"])

    def templated(value) -> str:
        text = json.dumps(value, separators=(",", ":"))
        for unique_id in cloned:
            text = text.replace(f'"{unique_id}"', f'"{unique_id}{CLONE}"')
        return text

    nodes, parents, children = {}, {}, {}
    for section in ("nodes", "unit_tests"):
        for unique_id, node in manifest[section].items():
            node = dict(node, name=node["name"] + CLONE, alias=(node.get("alias") or node["name"]) + CLONE)
            nodes[unique_id] = templated(node)
    for unique_id in cloned:
        parents[unique_id] = templated(manifest["parent_map"].get(unique_id, []))
        children[unique_id] = templated(manifest["child_map"].get(unique_id, []))
    return manifest, nodes, parents, children, results


def _result_template(unique_id: str, results: dict[str, dict]) -> dict:
    """The fixture's result for this node, else one of a node of the same resource type, else any."""
    prefix = unique_id.split(".", 1)[0] + "."
    same_kind = (result for uid, result in results.items() if uid.startswith(prefix))
    return results.get(unique_id) or next(same_kind, None) or next(iter(results.values()))


def generate(size_mb: int, shape: str, fixture: Path = FIXTURE) -> Path:
    """Write ``step_N/{manifest,run_results}.json`` of about ``size_mb`` MB of manifest; reuse if present."""
    step_types = SHAPES[shape][2]
    fingerprint = hashlib.sha256((fixture / "manifest.json").read_bytes()).hexdigest()[:12] + f"-{SHAPES[shape][3]}"
    target = DATA_DIR / f"manifest_{size_mb}mb_{shape}"
    marker = target / "generated.json"
    if marker.exists() and json.loads(marker.read_text()).get("fixture") == fingerprint:
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    manifest, nodes, parents, children, results = _templates(fixture)
    per_clone = sum(len(t) + len(u) + 8 for t, u in zip(nodes.values(), nodes)) + sum(
        len(p) + len(c) + 2 * len(u) + 16 for u, p, c in zip(parents, parents.values(), children.values())
    )
    base = len(json.dumps(manifest, separators=(",", ":")))
    clones = max(1, (size_mb * 1_000_000 - base) // per_clone)
    print(f"generating ~{size_mb} MB manifest: {clones} clones of {len(nodes)} nodes", flush=True)

    manifest_path = target / "manifest.json"
    _write_manifest(manifest_path, manifest, nodes, parents, children, clones)
    for step, kinds in step_types.items():
        step_dir = target / f"step_{step}"
        step_dir.mkdir()
        os.link(manifest_path, step_dir / "manifest.json")  # one file on disk, served per step
        ids = [uid for uid in nodes if uid.split(".", 1)[0] in kinds]
        _write_results(step_dir / "run_results.json", ids, results, clones, SHAPES[shape][3])
    manifest_path.unlink()
    marker.write_text(json.dumps({"fixture": fingerprint, "clones": clones, "nodes": clones * len(nodes)}))
    return target


def _suffix(k: int) -> str:
    return f"__c{k}"


def _write_manifest(path: Path, manifest: dict, nodes, parents, children, clones: int) -> None:
    def dump(value) -> str:
        return json.dumps(value, separators=(",", ":"))

    units = {u: t for u, t in nodes.items() if u.startswith("unit_test.")}
    others = {u: t for u, t in nodes.items() if u not in units}
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"metadata":' + dump(manifest["metadata"]) + ',"nodes":{')
        _write_clones(out, others, clones)
        out.write("}")
        for key, value in manifest.items():
            if key not in ("metadata", "nodes", "unit_tests", "parent_map", "child_map"):
                out.write("," + dump(key) + ":" + dump(value))
        # parent_map / child_map are as big as in real manifests: one entry per node
        for key, table in (("parent_map", parents), ("child_map", children)):
            out.write("," + dump(key) + ":{")
            _write_clones(out, table, clones)
            out.write("}")
        out.write(',"unit_tests":{')
        _write_clones(out, units, clones)
        out.write("}}")


def _write_clones(out, templates: dict[str, str], clones: int) -> None:
    first = True
    for k in range(clones):
        suffix = _suffix(k)
        chunk = []
        for unique_id, text in templates.items():
            chunk.append(("" if first else ",") + json.dumps(unique_id + suffix) + ":" + text.replace(CLONE, suffix))
            first = False
        out.write("".join(chunk))


def _write_results(path: Path, ids: list[str], results: dict[str, dict], clones: int, share: float) -> None:
    """One result per node of ``share`` of the clones (evenly spread), as a step selecting part of the project."""
    templates = {}
    for unique_id in ids:
        entry = dict(_result_template(unique_id, results), unique_id=unique_id + CLONE)
        templates[unique_id] = json.dumps(entry, separators=(",", ":"))
    metadata = {"dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json", "dbt_version": "1.10.23"}
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"metadata":' + json.dumps(metadata) + ',"results":[')
        first = True
        for k in range(clones):
            if int((k + 1) * share) == int(k * share):
                continue
            suffix = _suffix(k)
            chunk = []
            for text in templates.values():
                chunk.append(("" if first else ",") + text.replace(CLONE, suffix))
                first = False
            out.write("".join(chunk))
        out.write('],"elapsed_time":1.0,"args":{}}')


# --------------------------------------------------------------------------- emulator in its own process


class EmulatorProcess:
    """``databand-dbt emulator`` in a subprocess, so its memory never counts for a contender."""

    def __init__(self) -> None:
        self.process = None
        self.url = None

    def __enter__(self) -> EmulatorProcess:
        command = [
            sys.executable,
            "-m",
            "airflow_provider_databand_dbt.cli",
            "emulator",
            "--port",
            "0",
            "--runs-per-job",
            "1",
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
        deadline = time.monotonic() + 60
        for line in self.process.stdout:
            if "listening on " in line:
                self.url = line.strip().rsplit(" ", 1)[-1]
                break
            if time.monotonic() > deadline:
                break
        if not self.url:
            self.process.kill()
            raise RuntimeError("the emulator did not start")
        # keep reading its output so a full pipe never blocks it
        threading.Thread(target=self.process.stdout.read, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def control(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/_emulator/{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["data"]

    def add_run(self, artifacts_dir: Path, shape: str) -> int:
        job_id, steps_override = SHAPES[shape][:2]
        body = {
            "account_id": ACCOUNT_ID,
            "job_id": job_id,
            "count": 1,
            "status": "success",
            "artifacts_dir": str(artifacts_dir),
            "steps_override": steps_override,
        }
        return self.control("POST", "runs/", body)["run_ids"][0]


class DiscardSink:
    """A loopback HTTP server in a process of its own that reads each POST body and drops it: the Databand
    tracker the SDK reported to, minus whatever that server did with the report."""

    def __enter__(self) -> DiscardSink:
        self.process = subprocess.Popen([sys.executable, __file__, "--sink"], stdout=subprocess.PIPE, text=True)
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.process.kill()
            raise RuntimeError("the discard sink did not start")
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def serve_sink() -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Discard(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            left = int(self.headers.get("Content-Length", 0))
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 20))
                if not chunk:  # the client went away
                    break
                left -= len(chunk)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Discard)
    print(f"http://127.0.0.1:{server.server_address[1]}/api/v1/tracking/log_dbt_metadata", flush=True)
    server.serve_forever()


# --------------------------------------------------------------------------- contenders (run in a child process)


def _peak_rss_bytes() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _cpu_seconds() -> float:
    """User + system CPU of this process: steadier than wall time when the machine is busy."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


PHASES = ("download", "decode", "build", "store", "other")


def _time_phases() -> dict[str, float]:
    """Wrap the collector's steps with timers: seconds spent downloading, decoding, building NodeResults, storing.

    ``download`` is the artifact fetches less their decoding; ``other`` (the API calls for the run, its names,
    assembling the report) is what remains of the wall time.
    """
    from airflow_provider_databand_dbt.collector import collect, fetch
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    spent = dict.fromkeys(PHASES, 0.0)
    spent.update({f"{phase} cpu": 0.0 for phase in PHASES})

    def timed(function, phase: str):
        def wrapper(*args, **kwargs):
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[phase] += time.perf_counter() - started
                spent[f"{phase} cpu"] += time.process_time() - cpu

        return wrapper

    for name in ("decode_manifest", "decode_run_results", "decode_sources"):
        setattr(collect, name, timed(getattr(collect, name), "decode"))
    for name in ("run_result_nodes", "freshness_nodes"):
        setattr(collect, name, timed(getattr(collect, name), "build"))
    fetch.ArtifactFetcher.fetch = timed(fetch.ArtifactFetcher.fetch, "download")
    TrackingStore.save_report = timed(TrackingStore.save_report, "store")
    return spent


def run_ours(url: str, token: str, run_id: int, database: Path) -> dict:
    # Both contenders import what they use before the clock starts.
    from airflow_provider_databand_dbt.api import collect_data_from_dbt_cloud
    from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    assert DbtCloudClient and TrackingStore
    spent = _time_phases()

    startup, cpu = _peak_rss_bytes(), _cpu_seconds()
    started = time.perf_counter()
    report = collect_data_from_dbt_cloud(ACCOUNT_ID, token, run_id, url, tracking_url=f"sqlite:///{database}")
    seconds = time.perf_counter() - started
    nodes = sum(len(step.nodes) for step in report.steps)
    cpu = _cpu_seconds() - cpu
    for suffix, total in (("", seconds), (" cpu", cpu)):
        spent[f"download{suffix}"] -= spent[f"decode{suffix}"]  # fetches include their decoding
        spent[f"other{suffix}"] = total - sum(spent[f"{phase}{suffix}"] for phase in PHASES if phase != "other")
    return {
        "seconds": seconds,
        "cpu": cpu,
        "peak_rss": _peak_rss_bytes(),
        "startup_rss": startup,
        "nodes": nodes,
        "phases": spent,
    }


def run_baseline_gc_off(url: str, token: str, run_id: int, database: Path) -> dict:
    """The baseline with the cyclic garbage collector off, as ours runs while it builds a report."""
    import gc

    gc.disable()
    return run_baseline(url, token, run_id, database)


def _sdk_fetch(url: str, token: str, run_id: int) -> dict:
    """What the Databand SDK fetched: the run, its environment, and every step's run_results and manifest as dicts."""
    import requests

    headers = {"Authorization": f"Token {token}"}
    base = f"{url}/api/v2/accounts/{ACCOUNT_ID}"

    def get_json(path: str, **params):
        response = requests.get(f"{base}/{path}", headers=headers, params=params)
        return response.json() if response.ok else None

    run = get_json(f"runs/{run_id}/", include_related='["run_steps","job","trigger"]')["data"]
    run["environment"] = requests.get(
        f"{url}/api/v3/accounts/{ACCOUNT_ID}/environments/{run['environment_id']}/", headers=headers
    ).json()
    for step in run.get("run_steps", []):
        step["run_results"] = get_json(f"runs/{run_id}/artifacts/run_results.json", step=step["index"])
        step["manifest"] = get_json(f"runs/{run_id}/artifacts/manifest.json", step=step["index"])
    return run


def _result_count(run: dict) -> int:
    return sum(len((step.get("run_results") or {}).get("results", [])) for step in run["run_steps"])


def _measured(started: float, cpu: float, startup: int, nodes: int) -> dict:
    return {
        "seconds": time.perf_counter() - started,
        "cpu": _cpu_seconds() - cpu,
        "peak_rss": _peak_rss_bytes(),
        "startup_rss": startup,
        "nodes": nodes,
    }


def run_baseline(url: str, token: str, run_id: int, database: Path) -> dict:
    """The SDK's fetching, then a join loop and one trivial sqlite row per node instead of its report upload."""
    import sqlite3

    startup, cpu = _peak_rss_bytes(), _cpu_seconds()
    started = time.perf_counter()
    run = _sdk_fetch(url, token, run_id)
    rows = []
    for step in run["run_steps"]:
        results, manifest = step.get("run_results"), step.get("manifest") or {}
        if not results:
            continue
        nodes = manifest.get("nodes", {})
        for result in results["results"]:
            node = nodes.get(result["unique_id"]) or manifest.get("unit_tests", {}).get(result["unique_id"], {})
            rows.append(
                (
                    run_id,
                    step["index"],
                    result["unique_id"],
                    node.get("name"),
                    node.get("resource_type"),
                    result["status"],
                    result.get("execution_time"),
                    json.dumps(node.get("depends_on", {}).get("nodes", [])),
                )
            )
    # The SDK re-serialized all of this and POSTed it to Databand; a plain insert is the cheap stand-in.
    db = sqlite3.connect(database)
    db.execute("create table node (run_id, step, unique_id, name, resource_type, status, execution_time, depends_on)")
    db.executemany("insert into node values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    return _measured(started, cpu, startup, len(rows))


def run_baseline_sdk_report(url: str, token: str, run_id: int, database: Path) -> dict:
    """The SDK's fetching, then its report as it sent it: the whole run (every step's manifest and run_results)
    serialized to JSON and POSTed to the tracker (``tracker.log_dbt_metadata``), here a loopback sink that
    reads and discards the body (``BENCH_SINK_URL``, a process of its own)."""
    import requests

    startup, cpu = _peak_rss_bytes(), _cpu_seconds()
    started = time.perf_counter()
    run = _sdk_fetch(url, token, run_id)
    body = json.dumps({"dbt_metadata": run}).encode()
    requests.post(
        os.environ["BENCH_SINK_URL"], data=body, headers={"Content-Type": "application/json"}
    ).raise_for_status()
    return _measured(started, cpu, startup, _result_count(run))


CONTENDERS = {
    "ours": run_ours,
    "ours-next-run": run_ours,
    "baseline": run_baseline,
    "baseline-gc-off": run_baseline_gc_off,
    "baseline-sdk-report": run_baseline_sdk_report,
}


def measure(contender: str, url: str, token: str, run_id: int, profile: Path | None = None, warm_run_id=None) -> dict:
    """Run one contender in a fresh interpreter against a fresh database and return its numbers.

    ``ours-next-run`` first stores ``warm_run_id`` (another run of the same job) in a process of its own, then
    measures ``run_id`` into that store: a pipeline's next run, whose nodes and definitions are already stored.
    """
    with tempfile.TemporaryDirectory(prefix="bench-collect-") as scratch:
        database = Path(scratch) / "tracking.db"
        if contender == "ours-next-run":
            _child("ours", url, token, warm_run_id, database, scratch, None)
        return _child(contender, url, token, run_id, database, scratch, profile)


def _child(contender: str, url: str, token: str, run_id: int, database: Path, scratch: str, profile) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        contender,
        "--url",
        url,
        "--run-id",
        str(run_id),
        "--database",
        str(database),
        *(["--profile", str(profile.absolute())] if profile else []),
    ]
    env = dict(os.environ, BENCH_TOKEN=token, TMPDIR=scratch)
    output = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if output.returncode:
        sys.exit(f"{contender} failed (exit {output.returncode}):\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- report


def _measure_size(
    emulator: EmulatorProcess,
    shape: str,
    size: int,
    contenders: list[str],
    repeat: int,
    token: str,
    profile: Path | None = None,
) -> tuple[int, dict]:
    """Generate (or reuse) the data of one shape and size and measure each contender on it."""
    data = generate(size, shape)
    step_types = SHAPES[shape][2]
    manifest_bytes = (data / f"step_{max(step_types)}" / "manifest.json").stat().st_size
    results_bytes = sum((data / f"step_{s}" / "run_results.json").stat().st_size for s in step_types)
    print(
        f"{shape} {size} MB: manifest {_mb(manifest_bytes)} MB, run_results {_mb(results_bytes)} MB over "
        f"{len(step_types)} step(s)",
        flush=True,
    )
    measured = {}
    for contender in contenders:
        best = None
        for _ in range(repeat):
            warm = emulator.add_run(data, shape) if contender == "ours-next-run" else None
            result = measure(contender, emulator.url, token, emulator.add_run(data, shape), profile, warm)
            print(
                f"  {contender:19} {result['seconds']:8.2f} s  cpu {result['cpu']:7.2f} s"
                f"  peak RSS {_mb(result['peak_rss'])} MB",
                flush=True,
            )
            if "phases" in result:
                for suffix in ("", " cpu"):
                    spent = "  ".join(f"{phase} {result['phases'][phase + suffix]:.2f}" for phase in PHASES)
                    print(f"  {'':19}{suffix or ' wall':>5} s: {spent}", flush=True)
            if best is None or result["seconds"] < best["seconds"]:
                best = result
        measured[contender] = best
    return manifest_bytes, measured


def _mb(value: float) -> str:
    return f"{value / 1024**2:,.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="100,300", help="manifest sizes in MB, comma separated (default: %(default)s)"
    )
    parser.add_argument("--shapes", default="3step,1step", help="run shapes, comma separated (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender; the fastest is reported")
    parser.add_argument("--only", choices=sorted(CONTENDERS), help="measure one contender")
    parser.add_argument(
        "--contenders",
        default=",".join(CONTENDERS),
        help="contenders, comma separated, in order (default: %(default)s)",
    )
    parser.add_argument(
        "--profile", type=Path, help="write each contender's cProfile stats to PROFILE.<contender>.prof (slower)"
    )
    parser.add_argument("--child", choices=sorted(CONTENDERS), help=argparse.SUPPRESS)
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--run-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.sink:
        serve_sink()
        return 0
    if args.child:
        contender = functools.partial(CONTENDERS[args.child], args.url, os.environ["BENCH_TOKEN"], args.run_id)
        if args.profile:
            import cProfile

            with cProfile.Profile() as profile:
                result = contender(args.database)
            profile.dump_stats(f"{args.profile}.{args.child}.prof")
        else:
            result = contender(args.database)
        print(json.dumps(result))
        return 0

    sys.path.insert(0, str(ROOT))
    from airflow_provider_databand_dbt.testing.emulator import DEMO_TOKEN

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    contenders = [args.only] if args.only else [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = sorted(set(contenders) - set(CONTENDERS))
    if unknown:
        parser.error(f"unknown contenders {', '.join(unknown)}; choose from {', '.join(CONTENDERS)}")
    rows = []
    with EmulatorProcess() as emulator, DiscardSink() as sink:
        os.environ["BENCH_SINK_URL"] = sink.url
        for shape in shapes:
            for size in sizes:
                rows.append(
                    (shape, *_measure_size(emulator, shape, size, contenders, args.repeat, DEMO_TOKEN, args.profile))
                )

    print()
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times suffer when busy)")
    print(
        f"{'shape':>5}  {'manifest':>9}  {'contender':19}  {'wall s':>8}  {'cpu s':>8}  "
        f"{'peak RSS MB':>11}  {'nodes':>8}"
    )
    for shape, manifest_bytes, measured in rows:
        for contender, result in measured.items():
            print(
                f"{shape:>5}  {_mb(manifest_bytes):>6} MB  {contender:19}  "
                f"{result['seconds']:8.2f}  {result['cpu']:8.2f}"
                f"  {_mb(result['peak_rss']):>11}  {result['nodes']:>8}"
            )
    if len(contenders) > 1:
        print()
        for shape, manifest_bytes, measured in rows:
            for name, mine in (
                (base, ours)
                for ours in ("ours", "ours-next-run")
                for base in ("baseline", "baseline-gc-off", "baseline-sdk-report")
            ):
                if name not in measured or mine not in measured:
                    continue
                base, ours = measured[name], measured[mine]
                same = (
                    "same node count"
                    if ours["nodes"] == base["nodes"]
                    else (f"NODE COUNTS DIFFER ({ours['nodes']} vs {base['nodes']})")
                )
                print(
                    f"{shape} {_mb(manifest_bytes)} MB {mine} vs {name}: "
                    f"{base['seconds'] / ours['seconds']:.1f}x faster (wall), "
                    f"{base['cpu'] / ours['cpu']:.1f}x less CPU, "
                    f"peak RSS {ours['peak_rss'] / base['peak_rss']:.2f}x ({same})"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
