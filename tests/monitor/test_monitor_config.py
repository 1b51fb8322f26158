"""Monitor configuration: INI and TOML files, env and flag layers, precedence, and errors that name the key."""

from __future__ import annotations

import pytest
from monitor_helpers import run_monitor

from airflow_provider_databand_dbt.config_values import parse_duration
from airflow_provider_databand_dbt.monitor.config import (
    DEFAULT_MAX_REQUESTS_PER_MINUTE,
    MonitorConfigError,
    load_config,
)

TOKEN = "dbtc_config_test_token_1234567890"

INI = """
[dbt_monitor]
prometheus_port = 9100
interval = 45
number_of_iterations = 3
stop_after = 2h

[dbt_monitor.syncer.prod]
account_id = 12
api_url = emea.dbt.com
api_token_env = PROD_TOKEN
job_ids = 1, 2, 3
runs_page_size = 50
backfill = 7d
max_requests_per_minute = 1200

[dbt_monitor.syncer.staging]
account_id = 13
api_token_file = {token_file}

[unrelated]
key = kept out of the monitor
"""

TOML = """
[dbt_monitor]
prometheus_port = 0
interval = "1m"

[dbt_monitor.syncer.prod]
account_id = 12
api_url = "https://ab123.us1.dbt.com"
api_token_env = "PROD_TOKEN"
project_ids = [10, 11]
environment_ids = [20]
"""


@pytest.fixture()
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_ini_file_with_two_syncers(tmp_path, token_file):
    path = write(tmp_path, "monitor.cfg", INI.format(token_file=token_file))
    config = load_config(path, environ={"PROD_TOKEN": TOKEN})
    assert (config.prometheus_port, config.interval, config.number_of_iterations, config.stop_after) == (
        9100,
        45,
        3,
        7200,
    )
    prod, staging = config.syncers
    assert (prod.name, prod.account_id, prod.api_url) == ("prod", 12, "https://emea.dbt.com")
    assert prod.job_ids == (1, 2, 3) and prod.runs_page_size == 50
    assert prod.backfill_seconds == 7 * 86400 and prod.max_requests_per_minute == 1200
    assert staging.token == TOKEN and staging.api_url == "https://cloud.getdbt.com"
    assert staging.max_requests_per_minute == DEFAULT_MAX_REQUESTS_PER_MINUTE < 5000
    assert staging.backfill_seconds is None
    assert TOKEN not in repr(config)


def test_toml_file(tmp_path):
    config = load_config(write(tmp_path, "monitor.toml", TOML), environ={"PROD_TOKEN": TOKEN})
    (prod,) = config.syncers
    assert config.prometheus_port == 0 and config.interval == 60
    assert prod.api_url == "https://ab123.us1.dbt.com"
    assert prod.project_ids == (10, 11) and prod.environment_ids == (20,)


def test_precedence_flags_over_env_over_file_over_defaults(tmp_path, token_file):
    path = write(tmp_path, "monitor.cfg", INI.format(token_file=token_file))
    environ = {
        "PROD_TOKEN": TOKEN,
        "DBND__DBT_MONITOR__INTERVAL": "12",
        "DBND__DBT_MONITOR__STOP_AFTER": "30",
        "DBND__DBT_MONITOR__SYNCER__PROD__RUNS_PAGE_SIZE": "20",
    }
    config = load_config(path, flags={"interval": "3", "number_of_iterations": None}, environ=environ)
    assert config.interval == 3  # flag beats env and file
    assert config.stop_after == 30  # env beats file
    assert config.number_of_iterations == 3  # file beats default (the flag was not given)
    assert config.lease_seconds == 60  # default
    assert config.syncers[0].runs_page_size == 20


def test_syncer_from_environment_only(tmp_path):
    environ = {
        "DATABAND_DBT_CONFIG": "",
        "HOME": str(tmp_path),
        "DBT_CLOUD_API_TOKEN": TOKEN,
        "DBND__DBT_MONITOR__SYNCER__MAIN__ACCOUNT_ID": "7",
        "DBND__DBT_MONITOR__PROMETHEUS_PORT": "0",
    }
    config = load_config(None, environ=environ)
    assert config.config_path is None
    assert [(s.name, s.account_id, s.token) for s in config.syncers] == [("main", 7, TOKEN)]


def test_config_path_from_env_var(tmp_path):
    path = write(tmp_path, "other.toml", TOML)
    config = load_config(None, environ={"DATABAND_DBT_CONFIG": path, "PROD_TOKEN": TOKEN})
    assert str(config.config_path) == path


@pytest.mark.parametrize(
    ("section", "line", "expected"),
    [
        ("dbt_monitor", "interval = soon", "[dbt_monitor] interval: expected a duration"),
        ("dbt_monitor", "prometheus_port = 70000", "[dbt_monitor] prometheus_port: must be <= 65535"),
        ("dbt_monitor", "intervall = 5", "[dbt_monitor] intervall: unknown key"),
        ("dbt_monitor.syncer.prod", "runs_page_size = 500", "[dbt_monitor.syncer.prod] runs_page_size: must be <= 100"),
        ("dbt_monitor.syncer.prod", "job_ids = 1, x", "[dbt_monitor.syncer.prod] job_ids: expected a list"),
        (
            "dbt_monitor.syncer.prod",
            "api_url = http://example.com",
            "[dbt_monitor.syncer.prod] api_url: invalid dbt Cloud API URL",
        ),
        (
            "dbt_monitor.syncer.prod",
            "api_token_env = MISSING_VAR",
            "[dbt_monitor.syncer.prod] api_token_env: environment variable MISSING_VAR is not set",
        ),
        ("dbt_monitor.syncer.prod", "backfill = -1d", "[dbt_monitor.syncer.prod] backfill: expected a duration"),
    ],
)
def test_bad_values_name_file_section_and_key(tmp_path, section, line, expected):
    sections = {"dbt_monitor": {}, "dbt_monitor.syncer.prod": {"account_id": "1", "api_token_env": "PROD_TOKEN"}}
    key, _, value = line.partition(" = ")
    sections[section][key] = value
    text = "".join(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()) for name, keys in sections.items())
    path = write(tmp_path, "monitor.cfg", text)
    with pytest.raises(MonitorConfigError) as info:
        load_config(path, environ={"PROD_TOKEN": TOKEN})
    assert str(info.value).startswith(path) and expected in str(info.value)


def test_missing_account_id_and_no_syncer(tmp_path):
    path = write(tmp_path, "monitor.cfg", "[dbt_monitor.syncer.prod]\napi_token_env = T\n")
    with pytest.raises(MonitorConfigError, match=r"\[dbt_monitor.syncer.prod\] account_id: required"):
        load_config(path, environ={"T": TOKEN})
    path = write(tmp_path, "empty.cfg", "[dbt_monitor]\ninterval = 5\n")
    with pytest.raises(MonitorConfigError, match="no syncer configured"):
        load_config(path, environ={})


def test_bad_env_and_flag_values_name_their_origin(tmp_path):
    path = write(tmp_path, "monitor.toml", TOML)
    with pytest.raises(
        MonitorConfigError, match="environment variable DBND__DBT_MONITOR__INTERVAL: expected a duration"
    ):
        load_config(path, environ={"PROD_TOKEN": TOKEN, "DBND__DBT_MONITOR__INTERVAL": "often"})
    with pytest.raises(MonitorConfigError, match="--number-of-iterations: must be >= 1"):
        load_config(path, flags={"number_of_iterations": "0"}, environ={"PROD_TOKEN": TOKEN})
    with pytest.raises(MonitorConfigError, match="--syncer nope: no such syncer"):
        load_config(path, only_syncers=["nope"], environ={"PROD_TOKEN": TOKEN})


def test_plain_token_in_file_warns_without_echoing_it(tmp_path, caplog):
    path = write(tmp_path, "monitor.cfg", f"[dbt_monitor.syncer.prod]\naccount_id = 1\napi_token = {TOKEN}\n")
    config = load_config(path, environ={})
    assert config.syncers[0].token == TOKEN
    assert "prefer api_token_env" in caplog.text and TOKEN not in caplog.text


def test_two_token_keys_are_refused(tmp_path, token_file):
    path = write(
        tmp_path,
        "monitor.cfg",
        f"[dbt_monitor.syncer.prod]\naccount_id = 1\napi_token_env = X\napi_token_file = {token_file}\n",
    )
    with pytest.raises(MonitorConfigError, match="set only one of api_token_env, api_token_file"):
        load_config(path, environ={"X": TOKEN})


def test_durations():
    assert parse_duration("90") == 90 and parse_duration("1h30m") == 5400 and parse_duration(0.5) == 0.5
    assert parse_duration("7d") == 604800 and parse_duration("2w") == 1209600
    for bad in ("", "abc", "5y", True, 0):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_token_in_the_wrong_key_is_not_echoed(tmp_path):
    path = write(tmp_path, "monitor.cfg", f"[dbt_monitor.syncer.prod]\naccount_id = {TOKEN}\napi_token_env = X\n")
    with pytest.raises(MonitorConfigError, match="account_id: expected an integer, got a 33-character string") as info:
        load_config(path, environ={"X": TOKEN})
    assert TOKEN not in str(info.value)


def test_bad_config_exits_2_and_starts_nothing(tmp_path):
    """The real command: exit code 2, one message naming file, section and key, no token, no server."""
    path = write(
        tmp_path,
        "monitor.cfg",
        f"[dbt_monitor]\nprometheus_port = 1\n\n[dbt_monitor.syncer.prod]\naccount_id = one\napi_token = {TOKEN}\n",
    )
    proc = run_monitor(path, timeout=60)
    assert proc.returncode == 2
    assert f"{path} [dbt_monitor.syncer.prod] account_id: expected an integer, got 'one'" in proc.stderr
    assert TOKEN not in proc.stderr + proc.stdout
    assert "serving" not in proc.stderr


def test_check_config_prints_without_token(tmp_path, token_file):
    path = write(tmp_path, "monitor.cfg", INI.format(token_file=token_file))
    proc = run_monitor(path, "--check-config", timeout=60, env={"PROD_TOKEN": TOKEN, "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert "syncer prod: account 12 on https://emea.dbt.com" in proc.stdout
    assert "api_token_env (env PROD_TOKEN)" in proc.stdout
    assert TOKEN not in proc.stdout + proc.stderr


def test_deploy_example_config_is_valid(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    text = (root / "deploy" / "monitor.example.toml").read_text()
    text = text.replace("/run/secrets/dbt_cloud_token_emea", str(token_file))
    environ = {"DBT_CLOUD_TOKEN_PROD": TOKEN, "DBT_CLOUD_WEBHOOK_SECRET_PROD": "webhook-secret-of-prod"}
    config = load_config(write(tmp_path, "monitor.toml", text), environ=environ)
    assert [s.name for s in config.syncers] == ["prod", "emea_marketing"]
    assert config.syncers[1].job_ids == (101, 102) and config.syncers[1].api_url == "https://emea.dbt.com"
    assert [s.request_deadline for s in config.syncers] == [120.0, 600.0]
    assert config.webhook_port == 8080 and [bool(s.webhook_secret) for s in config.syncers] == [True, False]


def test_deploy_kubernetes_config_map_and_alerts_are_valid(tmp_path):
    """PyYAML is in the ``test`` extra: this must run, never skip."""
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    documents = list(yaml.safe_load_all((root / "deploy" / "kubernetes.yaml").read_text()))
    config_map = next(d for d in documents if d["kind"] == "ConfigMap")
    (tmp_path / "k8s.toml").write_text(config_map["data"]["monitor.toml"])
    environ = {"DBT_CLOUD_TOKEN_PROD": TOKEN, "DBT_CLOUD_WEBHOOK_SECRET_PROD": "webhook-secret-of-prod"}
    config = load_config(str(tmp_path / "k8s.toml"), environ=environ)
    assert config.syncers[0].account_id == 12345 and config.syncers[0].webhook_secret and config.webhook_port == 8080
    ingress = next(d for d in documents if d["kind"] == "Ingress")
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/webhooks/dbt-cloud/"
    assert yaml.safe_load((root / "deploy" / "prometheus-alerts.yaml").read_text())["groups"]


def test_metrics_port_in_use_exits_2_before_polling(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        path = write(
            tmp_path,
            "monitor.cfg",
            f"[dbt_monitor]\nprometheus_port = {port}\nprometheus_host = 127.0.0.1\n"
            f"tracking_url = sqlite:///{tmp_path / 't.db'}\n\n"
            "[dbt_monitor.syncer.prod]\naccount_id = 1\napi_url = http://127.0.0.1:9\n"
            "api_token_env = PROD_TOKEN\n",
        )
        proc = run_monitor(path, timeout=60, env={"PROD_TOKEN": TOKEN, "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2, proc.stderr
    assert f"cannot serve metrics on 127.0.0.1:{port}" in proc.stderr
    assert "monitoring 1 syncer" not in proc.stderr
