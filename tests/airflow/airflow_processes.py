"""A real Airflow installation in a temp AIRFLOW_HOME, driven the way users drive it: the CLI.

``AirflowHome`` migrates a SQLite metadata DB, adds the ``dbt_cloud_default`` connection with
``airflow connections add`` (the README's way, not an ``AIRFLOW_CONN_*`` variable) and runs CLI
commands. ``AirflowHome.start()`` launches the long-running components the installed Airflow
needs (Airflow 3: api-server, dag-processor, scheduler, triggerer; Airflow 2: scheduler,
triggerer), each in its own process group so teardown kills everything they spawned.
State is read from the metadata DB, which is cheaper than a CLI start-up per poll.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
AIRFLOW_V_3 = int(importlib.metadata.version("apache-airflow").split(".")[0]) >= 3
CLI_TIMEOUT = 180
FINISHED_RUN_STATES = ("success", "failed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AirflowHome:
    """An AIRFLOW_HOME with a migrated SQLite DB and the README's ``dbt_cloud_default`` connection.

    :param root: an empty directory (logs of every process are written there too).
    :param dags_folder: the DAGs the components parse.
    :param env: extra environment for every Airflow process (tracking URL, example DAG settings).
    """

    def __init__(self, root: Path, dags_folder: Path, env: dict[str, str]) -> None:
        self.root = root
        self.metadata_db = root / "airflow" / "airflow.db"
        self.api_port = free_port()
        base = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "DATABAND_DBT"))}
        self.env = {
            **base,
            # Executors start `airflow tasks run` by name (Airflow 2's SequentialExecutor): this venv's first.
            "PATH": os.pathsep.join([str(BIN), base.get("PATH", "")]),
            "AIRFLOW_HOME": str(root / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            # Parse new files within seconds instead of minutes.
            "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "2",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "600",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
            # Every Airflow 3 process signs/validates task tokens with the same secret.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            **env,
        }
        self._processes: list[tuple[str, subprocess.Popen, Any]] = []

    # -- CLI --------------------------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = CLI_TIMEOUT, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``airflow <args>``; on failure the assertion shows the command's output tail."""
        done = subprocess.run(
            [str(BIN / "airflow"), *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check:
            assert done.returncode == 0, f"airflow {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
        return done

    def setup(self, *, emulator_url: str, account_id: int, token: str) -> AirflowHome:
        """``airflow db migrate`` and the README's ``airflow connections add dbt_cloud_default ...``."""
        self.cli("db", "migrate", timeout=300)
        self.cli(
            "connections",
            "add",
            "dbt_cloud_default",
            "--conn-type",
            "dbt_cloud",
            "--conn-login",
            str(account_id),
            "--conn-password",
            token,
            "--conn-host",
            emulator_url,
        )
        return self

    # -- long-running components ------------------------------------------------------------------

    def components(self) -> list[list[str]]:
        if AIRFLOW_V_3:  # 3.x: tasks report through the api-server; parsing is its own process
            return [
                ["api-server", "--host", "127.0.0.1", "--port", str(self.api_port), "--apps", "execution"],
                ["dag-processor"],
                ["scheduler"],
                ["triggerer"],
            ]
        return [["scheduler"], ["triggerer"]]

    def start(self) -> AirflowHome:
        for args in self.components():
            self._start_one(args)
        return self

    def _start_one(self, args: list[str]) -> None:
        log = (self.root / f"{args[0]}.log").open("ab")
        process = subprocess.Popen(
            [str(BIN / "airflow"), *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: teardown reaches the executors' children
        )
        self._processes.append((args[0], process, log))

    def restart(self, name: str) -> None:
        """Stop one component (SIGTERM, then SIGKILL after 20 s) and start it again, e.g. the triggerer."""
        (entry,) = [entry for entry in self._processes if entry[0] == name]
        self._processes.remove(entry)
        _stop([entry])
        self._start_one(next(args for args in self.components() if args[0] == name))

    def assert_running(self) -> None:
        for name, process, _ in self._processes:
            assert process.poll() is None, f"airflow {name} exited {process.returncode}: {self.log_tail(name)}"

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM every component's process group, SIGKILL what is left after a grace period."""
        _stop(self._processes)
        self._processes.clear()

    # -- metadata DB ------------------------------------------------------------------------------

    def query(self, sql: str, *params: Any) -> list[tuple]:
        with sqlite3.connect(self.metadata_db, timeout=30) as db:
            return db.execute(sql, params).fetchall()

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 120) -> None:
        """Until the dag-processor (scheduler on Airflow 2) has stored every DAG."""
        wanted = set(dag_ids)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.assert_running()
            known = {row[0] for row in self.query("SELECT dag_id FROM dag")}
            if wanted <= known:
                return
            time.sleep(1)
        raise AssertionError(f"DAGs {sorted(wanted - known)} not parsed within {timeout}s")

    def trigger(self, dag_id: str) -> str:
        """``airflow dags trigger``; returns the Airflow run id it created."""
        run_id = f"e2e__{dag_id}__{secrets.token_hex(4)}"
        self.cli("dags", "trigger", dag_id, "--run-id", run_id)
        return run_id

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        """The final state of one DAG run, polled from the metadata DB."""
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            self.assert_running()
            rows = self.query("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", dag_id, run_id)
            state = rows[0][0] if rows else None
            if state in FINISHED_RUN_STATES:
                return state
            time.sleep(1)
        raise AssertionError(
            f"{dag_id} run {run_id} still {state} after {timeout}s; {self.failure_report(dag_id, run_id)}"
        )

    def task_states(self, dag_id: str, run_id: str) -> dict[str, tuple[str, int]]:
        """task id -> (state, try number) of the run's (unmapped) task instances."""
        rows = self.query(
            "SELECT task_id, state, try_number FROM task_instance WHERE dag_id = ? AND run_id = ?", dag_id, run_id
        )
        return {task_id: (state, try_number) for task_id, state, try_number in rows}

    def task_log(self, dag_id: str, run_id: str, task_id: str, chars: int = 8000) -> str:
        """The last ``chars`` of a task's own log files (every attempt, trigger logs too), one event a line."""
        folder = self.root / "airflow" / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        parts = [
            f"--- {path.relative_to(folder)}\n"
            + "\n".join(map(_log_line, path.read_text(errors="replace").splitlines()))
            for path in sorted(folder.rglob("attempt=*.log*"))
        ]
        return "\n".join(parts)[-chars:] if parts else f"(no task log under {folder})"

    def failure_report(self, dag_id: str, run_id: str) -> str:
        """Why a DAG run did not succeed: its task states, each unsuccessful task's own log, and what the
        scheduler logged about those tasks (it decides some failures itself: heartbeats, executor events).
        """
        tasks = self.task_states(dag_id, run_id)
        report = [f"tasks {tasks}"]
        scheduler = self.log_tail("scheduler", chars=2_000_000).splitlines()
        for task_id, (state, _) in sorted(tasks.items()):
            if state == "success":
                continue
            about = [line for line in scheduler if task_id in line and (run_id in line or dag_id in line)]
            report.append(f"=== log of task {task_id} ({state})\n{self.task_log(dag_id, run_id, task_id)}")
            report.append(f"=== scheduler lines about {task_id}\n" + "\n".join(about[-30:])[-4000:])
        report.append(f"=== scheduler log tail\n{self.log_tail('scheduler', chars=1500)}")
        return "\n".join(report)

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str) -> Any:
        rows = self.query(
            "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND key = ?",
            dag_id,
            run_id,
            task_id,
            key,
        )
        assert rows, f"no XCom {key!r} from {dag_id}.{task_id} in {run_id}"
        value = rows[0][0]
        return json.loads(value) if isinstance(value, (str, bytes)) else value


def _log_line(line: str) -> str:
    """An Airflow 3 JSON log event as ``time level event [logger]`` plus its exception; other lines as they are."""
    try:
        event = json.loads(line)
    except ValueError:
        return line
    if not isinstance(event, dict) or "event" not in event:
        return line
    text = f"{event.get('timestamp', '')} {event.get('level', '')} {event['event']} [{event.get('logger', '')}]"
    for error in event.get("error_detail") or []:
        frames = error.get("frames") or [{}]
        where = f"{frames[-1].get('filename')}:{frames[-1].get('lineno')}"
        text += f"\n    {error.get('exc_type')}: {error.get('exc_value')} (at {where})"
    return text


def _stop(processes: list[tuple[str, subprocess.Popen, Any]]) -> None:
    for _, process, _ in processes:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for _, process, log in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            pass
        _signal_group(process, signal.SIGKILL)  # also children that outlived their parent
        process.wait(timeout=10)
        log.close()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
