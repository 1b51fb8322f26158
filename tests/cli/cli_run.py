"""Run ``databand-dbt`` as a user would: a real subprocess with its own environment."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN

CLI = [sys.executable, "-m", "airflow_provider_databand_dbt.cli"]
# Root ignores file permissions; without these capabilities it is a user who cannot write a 0444 file in a 0555
# folder. (runuser -u nobody cannot be used: the interpreter lives under /root, which nobody may not enter.)
_NO_OVERRIDE = "-dac_override,-dac_read_search,-fowner"


def cli_env(token: str | None = DEMO_TOKEN, tracking_url: str | None = None, **extra: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DBT_CLOUD_API_TOKEN"}
    if token is not None:
        env["DBT_CLOUD_API_TOKEN"] = token
    if tracking_url is not None:
        env["DATABAND_DBT_TRACKING_URL"] = tracking_url
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def databand_dbt(
    *args: str,
    token: str | None = DEMO_TOKEN,
    tracking_url: str | None = None,
    timeout=120,
    prefix: list[str] | None = None,
    env: dict[str, str] | None = None,
    **kwargs,
):
    return subprocess.run(
        [*(prefix or []), *CLI, *args],
        env=env if env is not None else cli_env(token, tracking_url),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


def cannot_write_prefix() -> list[str] | None:
    """A command prefix that makes the process obey file permissions (root does not); None when unavailable."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    return [setpriv, "--bounding-set", _NO_OVERRIDE, "--inh-caps", _NO_OVERRIDE, "--"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def collect_args(emulator, run_id: int, *extra: str) -> list[str]:
    return ["collect", "--account-id", str(DEMO_ACCOUNT_ID), "--run-id", str(run_id), "--api-url", emulator.url, *extra]


def one_line_error(result, code: int) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines, "expected an error message"
    return lines[-1]


def collect_with_only(emulator, run_id: int, tracking_url: str, home, prefixes: tuple[str, ...], **settings: str):
    """``databand-dbt collect`` of one emulator run whose environment has, of the variables starting with
    ``prefixes``, only ``settings`` (HOME and AIRFLOW_HOME in ``home``, so no user config file is read)."""
    env = cli_env(tracking_url=tracking_url, HOME=str(home), AIRFLOW_HOME=str(home), **settings)
    for key in [key for key in env if key.startswith(prefixes) and key not in settings]:
        del env[key]
    return databand_dbt(*collect_args(emulator, run_id), env=env, cwd=home)
