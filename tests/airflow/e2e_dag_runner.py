"""Run DAGs for the end-to-end tests, one after the other, in one long-lived Airflow process.

``airflow dags test`` pays ~25 s of Airflow start-up (CLI, in-process execution API) per DAG on
2 cores; this runner pays it once and then calls the same ``DAG.test()`` for every request.
Protocol: one JSON object per stdin line ``{"dag_id", "conf", "env"}``; ``env`` is applied to
``os.environ`` (for that DAG only) before the DAG file is parsed again, so env-driven example DAGs
pick it up. One result per request on stdout: ``@@RESULT {"dag_id", "state", "tasks": [...]}``.
Airflow's own logging goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback

RESULT_PREFIX = "@@RESULT "


def _value(state) -> str | None:
    return getattr(state, "value", state)


try:  # Airflow 3: DAGs come from bundles and runs have a logical date
    from airflow.utils.cli import get_bagged_dag

    def _load_dag(dag_id: str):
        return get_bagged_dag(bundle_names=None, dag_id=dag_id)

    _DATE_ARGUMENT = "logical_date"
except ImportError:  # Airflow 2
    from airflow.utils.cli import get_dag

    def _load_dag(dag_id: str):
        return get_dag(subdir=None, dag_id=dag_id)

    _DATE_ARGUMENT = "execution_date"


def _apply_env(values: dict) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = str(value)


def run_one(request: dict) -> dict:
    from airflow.utils import timezone

    overrides = request.get("env") or {}
    saved = {name: os.environ.get(name) for name in overrides}
    _apply_env(overrides)
    started = time.monotonic()
    try:
        dag_run = _load_dag(request["dag_id"]).test(**{_DATE_ARGUMENT: timezone.utcnow()}, run_conf=request.get("conf"))
    finally:
        _apply_env(saved)  # the next DAG starts from the session's environment again
    tasks = [
        {"task_id": ti.task_id, "map_index": ti.map_index, "state": _value(ti.state), "try_number": ti.try_number}
        for ti in dag_run.get_task_instances()
    ]
    return {
        "dag_id": request["dag_id"],
        "airflow_run_id": dag_run.run_id,
        "state": _value(dag_run.state),
        "tasks": tasks,
        "seconds": round(time.monotonic() - started, 2),
    }


def main() -> int:
    # Protocol lines go to the original stdout; everything else written to fd 1 (task prints,
    # loggers bound to stdout) is sent to stderr, i.e. the log file.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            result = run_one(request)
        except Exception as exc:  # report and keep serving: one broken DAG must not hide the others
            traceback.print_exc()
            result = {"dag_id": request.get("dag_id"), "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.flush()
        sys.stderr.flush()
        out.write(RESULT_PREFIX + json.dumps(result) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
