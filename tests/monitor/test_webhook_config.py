"""Webhook settings: port and host from file, env and flags; the secret from an env var or a file, never echoed."""

from __future__ import annotations

import subprocess

import pytest
from monitor_helpers import TOKEN_ENV, monitor_command, monitor_env, write_config
from webhook_helpers import SECRET, SECRET_ENV, environ

from airflow_provider_databand_dbt.monitor.config import MonitorConfigError, load_config

API_URL = "http://127.0.0.1:9"


def config_file(tmp_path, syncer=None, **main):
    return write_config(
        tmp_path / "monitor.cfg", API_URL, f"sqlite:///{tmp_path / 't.db'}", syncers={"main": syncer or {}}, **main
    )


def test_webhooks_are_off_by_default_and_empty_means_off(tmp_path):
    assert load_config(str(config_file(tmp_path)), environ=environ()).webhook_port == 0
    config = load_config(str(config_file(tmp_path, webhook_port="")), environ=environ())
    assert config.webhook_port == 0
    assert config.syncers[0].webhook_secret is None


def test_port_and_host_from_file_env_and_flags_and_host_defaults_to_prometheus_host(tmp_path):
    path = config_file(tmp_path, webhook_port=9100, prometheus_host="127.0.0.2")
    config = load_config(str(path), environ=environ())
    assert (config.webhook_port, config.webhook_host) == (9100, "127.0.0.2")
    env = environ(DBND__DBT_MONITOR__WEBHOOK_PORT="9200", DBND__DBT_MONITOR__WEBHOOK_HOST="127.0.0.3")
    config = load_config(str(path), environ=env)
    assert (config.webhook_port, config.webhook_host) == (9200, "127.0.0.3")
    config = load_config(str(path), environ=env, flags={"webhook_port": "9300", "webhook_host": "127.0.0.4"})
    assert (config.webhook_port, config.webhook_host) == (9300, "127.0.0.4")
    with pytest.raises(MonitorConfigError, match="webhook.port"):
        load_config(str(path), environ=env, flags={"webhook_port": "70000"})


def test_the_webhook_port_cannot_be_the_metrics_port(tmp_path):
    path = config_file(tmp_path, webhook_port=9100, prometheus_port=9100)
    with pytest.raises(MonitorConfigError, match="webhook_port 9100 is also prometheus_port"):
        load_config(str(path), environ=environ())


def test_secret_from_env_or_file_never_in_repr(tmp_path):
    config = load_config(str(config_file(tmp_path, {"webhook_secret_env": SECRET_ENV})), environ=environ())
    syncer = config.syncers[0]
    assert syncer.webhook_secret == SECRET and SECRET not in repr(config)
    assert SECRET_ENV in syncer.webhook_secret_origin
    secret_file = tmp_path / "secret"
    secret_file.write_text(f"  {SECRET}\n")
    config = load_config(str(config_file(tmp_path, {"webhook_secret_file": secret_file})), environ=environ())
    assert config.syncers[0].webhook_secret == SECRET


def test_an_unset_secret_variable_is_a_config_error_naming_it(tmp_path):
    path = config_file(tmp_path, {"webhook_secret_env": "NO_SUCH_WEBHOOK_SECRET"})
    with pytest.raises(MonitorConfigError, match="environment variable NO_SUCH_WEBHOOK_SECRET is not set"):
        load_config(str(path), environ=environ())
    with pytest.raises(MonitorConfigError, match="NO_SUCH_WEBHOOK_SECRET is not set or empty"):
        load_config(str(path), environ=environ(NO_SUCH_WEBHOOK_SECRET="  "))


@pytest.mark.parametrize("content", [None, "", "\n"], ids=["missing", "empty", "blank"])
def test_a_missing_or_empty_secret_file_is_a_config_error_naming_it(tmp_path, content):
    secret_file = tmp_path / "secret"
    if content is not None:
        secret_file.write_text(content)
    path = config_file(tmp_path, {"webhook_secret_file": secret_file})
    with pytest.raises(MonitorConfigError, match=str(secret_file)):
        load_config(str(path), environ=environ())


def test_both_secret_keys_or_a_short_secret_are_refused_without_echoing_it(tmp_path):
    path = config_file(tmp_path, {"webhook_secret_env": SECRET_ENV, "webhook_secret_file": "/x"})
    with pytest.raises(MonitorConfigError, match="set only one of"):
        load_config(str(path), environ=environ())
    path = config_file(tmp_path, {"webhook_secret_env": SECRET_ENV})
    with pytest.raises(MonitorConfigError, match="shorter than 8") as error:
        load_config(str(path), environ=environ(**{SECRET_ENV: "abc1234"}))
    assert "abc1234" not in str(error.value)


def test_the_cli_stops_at_start_with_exit_2_naming_the_variable_never_a_value(tmp_path):
    path = config_file(tmp_path, {"webhook_secret_env": SECRET_ENV}, webhook_port=9100)
    env = monitor_env()
    env.pop(SECRET_ENV, None)
    proc = subprocess.run(monitor_command(path), capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2
    assert f"environment variable {SECRET_ENV} is not set" in proc.stderr
    env[SECRET_ENV] = SECRET
    proc = subprocess.run(monitor_command(path, "--check-config"), capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "webhooks: 127.0.0.1:9100" in proc.stdout and SECRET_ENV in proc.stdout
    assert SECRET not in proc.stdout + proc.stderr and env[TOKEN_ENV] not in proc.stdout


def test_a_webhook_port_in_use_exits_2_with_one_line(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        path = config_file(tmp_path, {"webhook_secret_env": SECRET_ENV}, webhook_port=port)
        env = monitor_env(**{SECRET_ENV: SECRET})
        proc = subprocess.run(monitor_command(path), capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2, proc.stderr
    assert f"cannot receive webhooks on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr
