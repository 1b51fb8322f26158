"""Run the dbt Cloud provider's own unit tests with our hook, operator, sensor and trigger in place of its.

Usage: ``VENV/bin/python scripts/upstream_provider_tests.py [--baseline] [PYTEST ARGS...]``, with the
venv to check (it must have this package and the dbt Cloud provider installed); ``--baseline`` runs
the same tests on the provider's own classes (they all pass: it checks the shim, not us). Steps:

1. the installed provider version is read from the venv;
2. its sdist is downloaded from PyPI into ``.cache/upstream/`` (once) and its unit tests for hooks,
   operators, sensors and triggers are extracted;
3. the pytest plugins those tests use (our ``upstream-tests`` extra: pytest-asyncio, requests-mock,
   time-machine) are installed into ``.cache/upstream/deps`` (once), never into the venv;
4. pytest runs them with ``tests/airflow/upstream`` on the path: ``databand_substitution`` swaps the
   classes, ``tests_common`` is a minimal shim of Airflow's repository-only test helpers;
5. any failure not listed in ``tests/airflow/upstream_allowlist.txt`` fails the check (exit 1); an
   allowed test that passes is reported so the list can shrink.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "upstream"
SHIM = ROOT / "tests" / "airflow" / "upstream"
ALLOWLIST = ROOT / "tests" / "airflow" / "upstream_allowlist.txt"
DISTRIBUTION = "apache-airflow-providers-dbt-cloud"
TEST_DIRS = ("hooks", "operators", "sensors", "triggers", "test_data")


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], check=True)


def sdist(provider_version: str) -> Path:
    """The provider's sdist, downloaded from PyPI the first time."""
    name = f"{DISTRIBUTION.replace('-', '_')}-{provider_version}.tar.gz"
    path = CACHE / name
    if not path.exists():
        print(f"downloading {DISTRIBUTION}=={provider_version} (sdist)", flush=True)
        pip("download", "--no-deps", "--no-binary", ":all:", "-d", str(CACHE), f"{DISTRIBUTION}=={provider_version}")
    return path


def extract_tests(archive: Path, provider_version: str) -> Path:
    """``tests/`` of the sdist with only the unit tests we run; returns the directory holding ``tests/``."""
    dest = CACHE / f"tests-{provider_version}"
    if (dest / "tests").is_dir():
        return dest
    wanted = (
        "tests/__init__.py",
        "tests/conftest.py",
        "tests/unit/__init__.py",
        "tests/unit/dbt/__init__.py",
        "tests/unit/dbt/cloud/__init__.py",
        *(f"tests/unit/dbt/cloud/{d}/" for d in TEST_DIRS),
    )
    with tarfile.open(archive) as tar:
        members = []
        for member in tar.getmembers():
            relative = member.name.split("/", 1)[1] if "/" in member.name else ""
            if member.isfile() and relative.startswith(wanted):
                member.name = relative
                members.append(member)
        # The "data" filter (no links out, no special files) where this Python has it (3.9.17+, 3.11.4+).
        options = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(dest, members=members, **options)
    return dest


def plugins() -> list[str]:
    """The ``upstream-tests`` extra of our pyproject.toml: the pytest plugins the provider's tests use."""
    text = (ROOT / "pyproject.toml").read_text()
    try:
        import tomllib
    except ImportError:  # Python 3.10: the one line is simple enough to read by hand
        line = next(line for line in text.splitlines() if line.startswith("upstream-tests"))
        return [item.strip().strip('"') for item in line.split("[", 1)[1].rstrip("]").split(",")]
    return tomllib.loads(text)["project"]["optional-dependencies"]["upstream-tests"]


PLUGIN_PINS = ROOT / "constraints" / "upstream-tests.txt"  # exact versions, as every test venv has


def plugins_dir() -> Path:
    deps = CACHE / "deps"
    wanted = plugins()
    marker = deps / ".installed"
    wanted_text = "\n".join(wanted) + "\n" + PLUGIN_PINS.read_text()
    if not marker.exists() or marker.read_text() != wanted_text:
        print("installing " + ", ".join(wanted) + " into " + str(deps), flush=True)
        pip("install", "--no-deps", "--upgrade", "--target", str(deps), "-c", str(PLUGIN_PINS), *wanted)
        marker.write_text(wanted_text)
    return deps


def allowlist() -> set[str]:
    lines = (line.split("#", 1)[0].strip() for line in ALLOWLIST.read_text().splitlines())
    return {line for line in lines if line}


def allowed(node_id: str, allowed_ids: set[str]) -> bool:
    """An entry allows one test id, or every parametrization of it when given without ``[...]``."""
    return node_id in allowed_ids or node_id.split("[", 1)[0] in allowed_ids


def results(junit: Path) -> tuple[list[str], list[str], int]:
    """(failed or errored test ids, skipped test ids, number of tests) from pytest's JUnit XML."""
    failed, skipped, total = [], [], 0
    for case in ET.parse(junit).getroot().iter("testcase"):
        total += 1
        module = case.get("classname", "").split(".")
        # classname is "tests.unit.dbt.cloud.hooks.test_dbt.TestClass"; rebuild pytest's node id.
        path_parts = [part for part in module if not part[:1].isupper()]
        classes = [part for part in module if part[:1].isupper()]
        node_id = "/".join(path_parts) + ".py::" + "::".join([*classes, case.get("name", "")])
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(node_id)
        elif case.find("skipped") is not None:
            skipped.append(node_id)
    return failed, skipped, total


def main(args: list[str]) -> int:
    baseline = "--baseline" in args
    pytest_args = [arg for arg in args if arg != "--baseline"]
    CACHE.mkdir(parents=True, exist_ok=True)
    provider_version = version(DISTRIBUTION)
    tests_root = extract_tests(sdist(provider_version), provider_version)
    junit = CACHE / f"junit-{provider_version}.xml"
    junit.unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SHIM), str(plugins_dir()), str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("AIRFLOW_HOME", str(CACHE / "airflow-home"))
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        *([] if baseline else ["-p", "databand_substitution"]),
        "--rootdir",
        str(tests_root),
        "-c",
        os.devnull,
        "--timeout",
        "120",
        f"--junitxml={junit}",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "-W",
        "ignore::DeprecationWarning",
        *pytest_args,
        "tests/unit/dbt/cloud",
    ]
    whose = "its own classes (baseline)" if baseline else "our classes"
    print(f"{DISTRIBUTION} {provider_version}: running its unit tests with {whose}", flush=True)
    code = subprocess.run(command, check=False, cwd=tests_root, env=env).returncode
    if not junit.exists():
        print(f"pytest produced no report (exit {code})", file=sys.stderr)
        return 1
    failed, skipped, total = results(junit)
    allowed_ids = set() if baseline else allowlist()
    unexpected = [node for node in failed if not allowed(node, allowed_ids)]
    now_passing = sorted(a for a in allowed_ids if not any(allowed(node, {a}) for node in failed))
    print(
        f"\nupstream check: {total} tests, {len(failed)} failed ({len(failed) - len(unexpected)} allowed), "
        f"{len(skipped)} skipped"
    )
    for node in skipped:
        print(f"  skipped: {node}")
    for entry in now_passing:
        print(f"  allowed but passing (remove it from {ALLOWLIST.name}?): {entry}")
    for node in unexpected:
        print(f"  FAILED, not allowed: {node}")
    if unexpected or code not in (0, 1):
        print("upstream check FAILED" if unexpected else f"upstream check FAILED: pytest exit {code}", file=sys.stderr)
        return 1
    print("upstream check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
