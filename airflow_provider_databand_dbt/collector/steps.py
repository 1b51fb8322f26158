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
from collections.abc import Iterable, Sequence
from typing import Optional

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

# The longest name we parse or keep: real step names are a few dozen characters; a huge one
# (a pasted log, a generated --vars blob) must not cost time or memory in every later step.
MAX_STEP_TEXT = 4096
_ELLIPSIS = "..."

_BACKTICKED = re.compile(r"`\s*(dbt\s[^`]*?)\s*`")
_TOKEN = re.compile(r"\S+")


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

    Runs in time linear in the name, and only the first :data:`MAX_STEP_TEXT` characters count.

    :param step_name: the run step's name as dbt Cloud shows it.
    :param execute_steps: the job's commands, used when the name only mentions one of them.
    """
    name = " ".join(bounded_text(step_name or "").split())
    match = _BACKTICKED.search(name)
    if match:
        return match.group(1)
    if name.lower().startswith("dbt "):
        return name
    mentioned = [cmd for cmd in _normalized(execute_steps) if cmd and cmd in name]
    if mentioned:
        return max(mentioned, key=len)
    return _inline_command(name)


def bounded_text(text: str) -> str:
    """``text`` cut to :data:`MAX_STEP_TEXT` characters (with ``...``), what we parse and keep of a step."""
    if len(text) <= MAX_STEP_TEXT:
        return text
    return text[: MAX_STEP_TEXT - len(_ELLIPSIS)] + _ELLIPSIS


def _inline_command(name: str) -> Optional[str]:
    """``dbt [-flags...] <known command> ...`` written inline in a name, from ``dbt`` to the end.

    One pass over the words (no backtracking regex): a word ending in ``dbt`` (after a non-word
    character) starts a candidate, flags are skipped through a precomputed "next non-flag word"
    table, and the first candidate followed by a known command wins.
    """
    words = [(m.start(), m.group(0)) for m in _TOKEN.finditer(name)]
    next_plain = [len(words)] * (len(words) + 1)
    for position in range(len(words) - 1, -1, -1):
        next_plain[position] = next_plain[position + 1] if words[position][1].startswith("-") else position
    for position, (start, word) in enumerate(words[:-1]):
        lowered = word.lower()
        if not lowered.endswith("dbt") or (len(word) > 3 and _is_word_char(word[-4])):
            continue
        following = next_plain[position + 1]
        if following < len(words) and _starts_with_command(words[following][1].lower()):
            return name[start + len(word) - 3 :]
    return None


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _starts_with_command(word: str) -> bool:
    for command in KNOWN_COMMANDS:
        if word.startswith(command):
            rest = word[len(command) : len(command) + 1]
            if not rest or not (_is_word_char(rest) or rest == "-"):
                return True
    return False


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
