"""Which dbt Cloud run steps ran which dbt command, and which results artifact that command writes.

dbt Cloud names its steps ``Clone git repository``, ``Create profile from connection ...``,
``Invoke dbt with `dbt build``` (older: ``Invoke `dbt build```) and so on; the job's
``execute_steps`` hold the commands as the user typed them. We read the command from the step
name, falling back to the execute step the name mentions, and never ask the API which artifacts a
step has: the command says it, which saves one request per step.
"""
from __future__ import annotations

import re
import shlex
from typing import Iterable, Optional, Sequence

import msgspec

from airflow_provider_databand_dbt.collector.artifacts import RUN_RESULTS, SOURCES

# dbt sub-commands that write run_results.json.
RUN_RESULTS_COMMANDS = frozenset(
    {"build", "run", "test", "seed", "snapshot", "compile", "run-operation", "retry", "clone", "show"}
)
# Sub-commands that write no results we track (they are system steps even when dbt runs them).
QUIET_COMMANDS = frozenset({"deps", "debug", "clean", "init", "parse", "ls", "list"})
TWO_WORD_COMMANDS = frozenset({"source", "docs"})
KNOWN_COMMANDS = RUN_RESULTS_COMMANDS | QUIET_COMMANDS | TWO_WORD_COMMANDS

_BACKTICKED = re.compile(r"`\s*(dbt\s[^`]*?)\s*`")
_INLINE = re.compile(
    r"\bdbt\s+(?:-\S+\s+)*(?:%s)(?![\w-]).*$" % "|".join(map(re.escape, sorted(KNOWN_COMMANDS, key=len, reverse=True))),
    re.IGNORECASE,
)


class StepPlan(msgspec.Struct, kw_only=True, frozen=True):
    """What the collector will fetch for one step.

    :param command: the dbt command string, or None for system steps (clone, profile).
    :param results_artifact: ``run_results.json``, ``sources.json`` or None when the command writes neither.
    :param finished: whether the step reached a final status (only finished steps have artifacts).
    """

    index: int
    command: Optional[str]
    results_artifact: Optional[str]
    finished: bool

    @property
    def fetches_results(self) -> bool:
        return self.finished and self.results_artifact is not None


def step_command(step_name: str, execute_steps: Sequence[str] = ()) -> Optional[str]:
    """The dbt command a step ran, read from its name; None for steps that are not dbt commands.

    :param step_name: the run step's name as dbt Cloud shows it.
    :param execute_steps: the job's commands, used when the name only mentions one of them.
    """
    name = " ".join((step_name or "").split())
    match = _BACKTICKED.search(name)
    if match:
        return match.group(1)
    if name.lower().startswith("dbt "):
        return name
    mentioned = [cmd for cmd in _normalized(execute_steps) if cmd and cmd in name]
    if mentioned:
        return max(mentioned, key=len)
    match = _INLINE.search(name)
    return match.group(0) if match else None


def results_artifact(command: Optional[str]) -> Optional[str]:
    """The results file a dbt command writes: ``run_results.json``, ``sources.json`` or None."""
    words = _subcommand_words(command)
    if not words:
        return None
    first = words[0]
    second = words[1] if len(words) > 1 else None
    if first == "source":
        return SOURCES if second in ("freshness", "snapshot-freshness") else None
    if first == "docs":
        return RUN_RESULTS if second == "generate" else None
    return RUN_RESULTS if first in RUN_RESULTS_COMMANDS else None


def plan_step(index: int, name: str, finished: bool, execute_steps: Sequence[str] = ()) -> StepPlan:
    command = step_command(name, execute_steps)
    return StepPlan(index=index, command=command, results_artifact=results_artifact(command), finished=finished)


def manifest_step(plans: Iterable[StepPlan]) -> Optional[int]:
    """Index of the step whose manifest we download: the last finished step that has results."""
    indexes = [plan.index for plan in plans if plan.fetches_results]
    return max(indexes) if indexes else None


def _normalized(commands: Iterable[str]) -> list[str]:
    return [" ".join(str(cmd).split()) for cmd in commands or () if cmd]


def _subcommand_words(command: Optional[str]) -> list[str]:
    """The sub-command and the word after it (``["source", "freshness"]``), skipping ``dbt`` and global flags."""
    if not command:
        return []
    try:
        tokens = shlex.split(command)
    except ValueError:  # unbalanced quotes in --vars and the like
        tokens = command.split()
    if tokens and tokens[0].lower() == "dbt":
        tokens = tokens[1:]
    for position, token in enumerate(tokens):
        word = token.lower()
        if word in KNOWN_COMMANDS:
            rest = [t.lower() for t in tokens[position + 1 :] if not t.startswith("-")]
            return [word] + rest[:1]
    return []
