"""The run scenarios the emulator plays back: step layouts and real dbt artifacts on disk.

``artifacts/scenarios.json`` (written by ``scripts/generate_artifacts.py``) describes each
scenario's steps; the artifacts of step ``n`` live in ``artifacts/<scenario>/step_<n>/``.
The loader accepts the generator's document (``{"scenarios": [...]}``), a bare list, or a
mapping of name to scenario, so a change of layout there does not break the emulator.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_databand_dbt.model.status import RunStatus

log = logging.getLogger(__name__)

ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
SCENARIOS_FILE = ARTIFACTS_DIR / "scenarios.json"

# Listing order of a step's artifacts; anything else follows alphabetically.
_ARTIFACT_ORDER = ("manifest.json", "run_results.json", "sources.json", "catalog.json")

_PLACEHOLDER_STEPS = (
    ("Clone git repository", None),
    ("Create profile from connection", None),
    ("Invoke `dbt build`", "dbt build"),
)


def status_code(value: int | str | RunStatus) -> int:
    """Numeric dbt Cloud status for a label (``"success"``), a code (``10``) or a RunStatus."""
    try:
        if isinstance(value, str):
            text = value.strip().lower()
            if text.isdigit():
                return int(RunStatus(int(text)))
            aliases = {"failed": "error", "failure": "error", "canceled": "cancelled"}
            return int(RunStatus.from_label(aliases.get(text, text)))
        return int(RunStatus(int(value)))
    except (KeyError, ValueError, TypeError):
        labels = ", ".join(s.label for s in RunStatus)
        raise ValueError(f"unknown run status {value!r}: use one of {labels} or their codes") from None


@dataclass(frozen=True)
class ScenarioStep:
    """One step of a scenario run, as dbt Cloud lists it (``Invoke `dbt build```...)."""

    index: int
    name: str
    command: str | None
    status: int
    duration_seconds: float
    artifacts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    """A canned dbt Cloud run: final status, message, steps and where their artifacts are."""

    name: str
    run_status: int
    status_message: str | None
    steps: tuple[ScenarioStep, ...]
    artifacts_root: Path | None
    dbt_version: str | None = None
    expected: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def execute_steps(self) -> list[str]:
        """The job's dbt commands, as dbt Cloud shows them on the job."""
        return [s.command for s in self.steps if s.command and s.command.startswith("dbt ")]

    @property
    def total_seconds(self) -> float:
        return sum(s.duration_seconds for s in self.steps)


# Run listings ask for every run's artifacts; folders do not change once they have files, and
# an empty or missing folder is looked at again after a second (benchmarks may fill it late).
_LISTINGS: dict[tuple[Path, int], list[str]] = {}
_MISSES: dict[tuple[Path, int], float] = {}
_LISTINGS_LIMIT = 10_000
_MISS_SECONDS = 1.0


def list_step_artifacts(root: Path | None, step_index: int) -> list[str]:
    """Artifact file names present for a step under ``root/step_<n>/``, in dbt Cloud's usual order."""
    if root is None:
        return []
    key = (root, step_index)
    cached = _LISTINGS.get(key)
    if cached is not None:
        return list(cached)
    now = time.monotonic()
    if _MISSES.get(key, 0.0) > now:
        return []
    try:
        names = [e.name for e in os.scandir(os.path.join(root, f"step_{step_index}")) if e.is_file()]
    except (FileNotFoundError, NotADirectoryError):
        names = []
    rank = {name: i for i, name in enumerate(_ARTIFACT_ORDER)}
    names.sort(key=lambda n: (rank.get(n, len(rank)), n))
    if len(_LISTINGS) + len(_MISSES) >= _LISTINGS_LIMIT:
        _LISTINGS.clear()
        _MISSES.clear()
    if names:
        _LISTINGS[key] = names
    else:
        _MISSES[key] = now + _MISS_SECONDS
    return list(names)


def artifact_file(root: Path | None, step_index: int, path: str) -> Path | None:
    """The file serving ``path`` of a step, or None; never a file outside the step directory."""
    if root is None or not path or "\\" in path or "\x00" in path:
        return None
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return None
    candidate = root.joinpath(f"step_{step_index}", *parts)
    return candidate if candidate.is_file() else None


class ScenarioLibrary:
    """Scenarios by name, read once from a directory laid out like ``testing/artifacts``.

    :param root: directory holding ``scenarios.json`` and ``<scenario>/step_<n>/`` folders.
    """

    def __init__(self, root: Path | str = ARTIFACTS_DIR) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._scenarios: dict[str, Scenario] | None = None

    def get(self, name: str) -> Scenario:
        """The scenario called ``name``; one without a description gets a generic 3-step layout."""
        scenarios = self._load()
        found = scenarios.get(name)
        if found is None:
            found = self._discover(name)
            with self._lock:
                scenarios[name] = found
        return found

    def names(self) -> list[str]:
        return sorted(self._load())

    def _load(self) -> dict[str, Scenario]:
        with self._lock:
            if self._scenarios is None:
                self._scenarios = self._read_file()
            return self._scenarios

    def _read_file(self) -> dict[str, Scenario]:
        path = self.root / "scenarios.json"
        try:
            with path.open("rb") as fh:
                document = json.load(fh)
        except FileNotFoundError:
            log.warning("%s is missing: scenarios get generic steps built from their folders", path)
            return {}
        entries, default_version = _scenario_entries(document)
        scenarios: dict[str, Scenario] = {}
        for name, entry in entries:
            scenarios[name] = self._parse(name, entry, default_version)
        return scenarios

    def _parse(self, name: str, entry: dict[str, Any], default_version: str | None) -> Scenario:
        steps = []
        for position, raw in enumerate(entry.get("steps") or [], start=1):
            steps.append(
                ScenarioStep(
                    index=int(raw.get("index", position)),
                    name=str(raw.get("name") or f"Step {position}"),
                    command=raw.get("command"),
                    status=status_code(raw.get("status") or "success"),
                    duration_seconds=max(float(raw.get("duration_seconds") or 0.0), 0.0),
                    artifacts=tuple(raw.get("artifacts") or ()),
                )
            )
        expected = entry.get("expected") or {}
        return Scenario(
            name=name,
            run_status=status_code(entry.get("run_status") or _worst(steps)),
            status_message=entry.get("status_message"),
            steps=tuple(steps),
            artifacts_root=self.root / name,
            dbt_version=expected.get("dbt_version") or default_version,
            expected=expected,
        )

    def _discover(self, name: str) -> Scenario:
        """A scenario from its folder alone: one dbt step per ``step_<n>`` folder, all successful."""
        folder = self.root / name
        indices = sorted(int(p.name[5:]) for p in folder.glob("step_*") if p.is_dir() and p.name[5:].isdigit())
        if not indices:
            steps = tuple(
                ScenarioStep(i, step_name, command, int(RunStatus.SUCCESS), 2.0)
                for i, (step_name, command) in enumerate(_PLACEHOLDER_STEPS, start=1)
            )
            return Scenario(name, int(RunStatus.SUCCESS), None, steps, None)
        steps = tuple(
            ScenarioStep(
                index,
                f"Invoke dbt (step {index})" if index in indices else f"Step {index}",
                "dbt build" if index in indices else None,
                int(RunStatus.SUCCESS),
                2.0,
                tuple(list_step_artifacts(folder, index)),
            )
            for index in range(1, indices[-1] + 1)
        )
        return Scenario(name, int(RunStatus.SUCCESS), None, steps, folder)


def _scenario_entries(document: Any) -> tuple[list[tuple[str, dict[str, Any]]], str | None]:
    """(name, entry) pairs from any of the accepted layouts, and a document-wide dbt version."""
    default_version = None
    if isinstance(document, dict) and "scenarios" in document:
        default_version = document.get("dbt_version")
        document = document["scenarios"]
    if isinstance(document, list):
        return [(str(e["name"]), e) for e in document if isinstance(e, dict) and e.get("name")], default_version
    if isinstance(document, dict):
        return [
            (str(e.get("name") or key), e) for key, e in document.items() if isinstance(e, dict) and "steps" in e
        ], default_version
    raise ValueError("scenarios.json must be a list or an object of scenarios")


def _worst(steps: list[ScenarioStep]) -> int:
    return max((s.status for s in steps), default=int(RunStatus.SUCCESS))
