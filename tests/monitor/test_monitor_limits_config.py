"""The client limits of a syncer (request_deadline, collect_deadline, max_response_bytes): keys, defaults, errors."""

from __future__ import annotations

import pytest
from monitor_helpers import run_monitor

from airflow_provider_databand_dbt.collector.collect import DEFAULT_COLLECT_DEADLINE
from airflow_provider_databand_dbt.dbt_cloud.transport import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_REQUEST_DEADLINE,
)
from airflow_provider_databand_dbt.monitor.config import MonitorConfigError, load_config

TOKEN = "dbtc_limits_test_token_1234567890"
ENV = {"T": TOKEN}


def write(tmp_path, text: str) -> str:
    path = tmp_path / "monitor.cfg"
    path.write_text(text)
    return str(path)


def syncers(tmp_path, main: str = "", prod: str = "", staging: str = "", environ=None, flags=None) -> dict:
    path = write(
        tmp_path,
        f"[dbt_monitor]\n{main}\n[dbt_monitor.syncer.prod]\naccount_id = 1\napi_token_env = T\n{prod}\n"
        f"[dbt_monitor.syncer.staging]\naccount_id = 2\napi_token_env = T\n{staging}\n",
    )
    config = load_config(path, environ={**ENV, **(environ or {})}, flags=flags)
    return {s.name: (s.request_deadline, s.collect_deadline, s.max_response_bytes) for s in config.syncers}


def test_defaults_are_the_clients(tmp_path):
    defaults = (DEFAULT_REQUEST_DEADLINE, DEFAULT_COLLECT_DEADLINE, DEFAULT_MAX_RESPONSE_BYTES)
    assert defaults == (600.0, 1800.0, 32 * 1024**2)
    assert syncers(tmp_path) == {"prod": defaults, "staging": defaults}


def test_main_section_is_the_default_of_every_syncer_and_a_syncer_overrides_it(tmp_path):
    got = syncers(
        tmp_path,
        main="request_deadline = 2m\ncollect_deadline = 1h\nmax_response_bytes = 1000",
        staging="request_deadline = 5\nmax_response_bytes = 2000",
    )
    assert got == {"prod": (120.0, 3600.0, 1000), "staging": (5.0, 3600.0, 2000)}


def test_environment_for_main_and_per_syncer(tmp_path):
    got = syncers(
        tmp_path,
        prod="request_deadline = 30",
        environ={
            "DBND__DBT_MONITOR__COLLECT_DEADLINE": "10m",
            "DBND__DBT_MONITOR__SYNCER__PROD__REQUEST_DEADLINE": "7",
            "DBND__DBT_MONITOR__SYNCER__STAGING__MAX_RESPONSE_BYTES": "4096",
        },
    )
    assert got == {"prod": (7.0, 600.0, DEFAULT_MAX_RESPONSE_BYTES), "staging": (DEFAULT_REQUEST_DEADLINE, 600.0, 4096)}


def test_flags_set_the_default_of_every_syncer(tmp_path):
    got = syncers(
        tmp_path,
        main="request_deadline = 60",
        staging="request_deadline = 5",
        environ={"DBND__DBT_MONITOR__REQUEST_DEADLINE": "30"},
        flags={"request_deadline": "9", "collect_deadline": "1m", "max_response_bytes": None},
    )
    assert got == {"prod": (9.0, 60.0, DEFAULT_MAX_RESPONSE_BYTES), "staging": (5.0, 60.0, DEFAULT_MAX_RESPONSE_BYTES)}
    with pytest.raises(MonitorConfigError, match="--max-response-bytes: must be >= 1"):
        syncers(tmp_path, flags={"max_response_bytes": "0"})


@pytest.mark.parametrize(
    ("section", "line", "expected"),
    [
        ("prod", "request_deadline = 0", "[dbt_monitor.syncer.prod] request_deadline: must be > 0 seconds"),
        ("prod", "collect_deadline = -5", "[dbt_monitor.syncer.prod] collect_deadline: expected a duration"),
        ("prod", "max_response_bytes = 0", "[dbt_monitor.syncer.prod] max_response_bytes: must be >= 1"),
        ("prod", "max_response_bytes = 1.5", "[dbt_monitor.syncer.prod] max_response_bytes: expected an integer"),
        ("main", "request_deadline = soon", "[dbt_monitor] request_deadline: expected a duration"),
    ],
)
def test_bad_values_name_the_key(tmp_path, section, line, expected):
    with pytest.raises(MonitorConfigError) as info:
        syncers(tmp_path, **{section: line})
    assert expected in str(info.value)


def test_infinite_and_nan_durations_are_refused(tmp_path):
    """TOML has inf and nan floats; neither is a deadline (the client would refuse them with a traceback)."""
    for value in ("inf", "nan"):
        path = tmp_path / "monitor.toml"
        path.write_text(f"[dbt_monitor.syncer.prod]\naccount_id = 1\napi_token_env = 'T'\nrequest_deadline = {value}\n")
        with pytest.raises(MonitorConfigError, match="request_deadline: must be > 0 seconds"):
            load_config(str(path), environ=ENV)


def test_command_exits_2_on_a_bad_limit_and_check_config_shows_them(tmp_path):
    path = write(tmp_path, "[dbt_monitor.syncer.prod]\naccount_id = 1\napi_token_env = T\ncollect_deadline = 0\n")
    proc = run_monitor(path, "--check-config", timeout=60, env={**ENV, "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    assert f"configuration error: {path} [dbt_monitor.syncer.prod] collect_deadline: must be > 0" in proc.stderr
    assert "Traceback" not in proc.stderr
    write(
        tmp_path,
        "[dbt_monitor]\nmax_response_bytes = 1048576\n"
        "[dbt_monitor.syncer.prod]\naccount_id = 1\napi_token_env = T\nrequest_deadline = 90\n",
    )
    proc = run_monitor(path, "--check-config", timeout=60, env={**ENV, "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert "request_deadline 90 s; collect_deadline 1800 s; max_response_bytes 1048576" in proc.stdout
