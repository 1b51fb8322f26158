"""A token pasted where a URL, file or variable name belongs is refused without being echoed or looked up,
and "loopback" is judged by address, by one helper used everywhere."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudConfigError
from airflow_provider_databand_dbt.dbt_cloud.tokens import looks_like_token
from airflow_provider_databand_dbt.dbt_cloud.urls import is_loopback, normalize_api_url

SERVICE_TOKEN = "dbtc_Q2xpZW50U2VjcmV0UHJvYmVfX19fX1234"
HEX_KEY = "3f9c2b7a8e1d4c6b9a0f5e2d7c8b1a3f4e6d9c0b"  # a legacy 40-hex dbt Cloud API key
BASE64_SECRET = "Zm9vYmFyQmF6UXV4MTIzNDU2Nzg5MGFiY2RlZg"
TOKENS = [SERVICE_TOKEN, "dbtu_personal0token0LEAKPROBE42", HEX_KEY, BASE64_SECRET]


@pytest.mark.parametrize(
    "value",
    [
        *TOKENS,
        f"Token {SERVICE_TOKEN}",
        f"Bearer {HEX_KEY}",
        f"https://{HEX_KEY}",
        f"https://{SERVICE_TOKEN}/",
        f"'{BASE64_SECRET}'",
        f"postgresql://u:{SERVICE_TOKEN}@db/x",
    ],
)
def test_token_shaped_values_are_recognised(value):
    assert looks_like_token(value)


@pytest.mark.parametrize(
    "value",
    [
        "cloud.getdbt.com",
        "https://ab123.us1.dbt.com",
        "http://127.0.0.1:8787",
        "emea.dbt.com",
        "DBT_CLOUD_API_TOKEN",
        "MY_COMPANY_DBT_CLOUD_PRODUCTION_API_TOKEN_2024",
        "/run/secrets/dbt_cloud_token",
        "~/.dbt/token.txt",
        "3f2a1b4c-1234-5678-9abc-def012345678",
        "sqlite:////var/lib/databand/tracking.db",
        "postgresql+psycopg://user:password@db.internal:5432/tracking",
        "",
        None,
        12345,
    ],
)
def test_urls_paths_and_names_are_not_tokens(value):
    assert not looks_like_token(value)


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST", "localhost.", "127.0.0.1", "127.8.9.10", "::1", "[::1]", "::1%lo", "[::1%1]"]
)
def test_loopback_is_an_address(host):
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host", ["foo.localhost", "localhost.evil.com", "127.0.0.1.nip.io", "10.0.0.1", "::2", "fe80::1%lo", "%", "", None]
)
def test_names_ending_in_localhost_are_not_loopback(host):
    assert not is_loopback(host)


def test_plain_http_to_a_dot_localhost_name_is_refused():
    with pytest.raises(DbtCloudConfigError, match="plain http"):
        normalize_api_url("http://foo.localhost:8080")
    assert normalize_api_url("http://localhost:8080") == "http://localhost:8080"


@pytest.mark.parametrize("token", TOKENS)
def test_a_token_given_as_api_url_is_refused_unseen(token):
    with pytest.raises(DbtCloudConfigError) as info:
        normalize_api_url(token)
    assert token not in str(info.value) and "looks like an API token" in str(info.value)


def databand_dbt(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBT_CLOUD", "DATABAND_DBT"))}
    env.update({"DBT_CLOUD_API_TOKEN": "dbtc_the_real_one_is_fine_0000", **(env_extra or {})})
    return subprocess.run(
        [sys.executable, "-m", "airflow_provider_databand_dbt.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_refused_unseen(result: subprocess.CompletedProcess, token: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "looks like an API token" in output
    assert "Traceback" not in output
    assert token not in output and token[5:20] not in output


@pytest.mark.parametrize("token", [SERVICE_TOKEN, HEX_KEY])
def test_cli_refuses_a_token_as_api_url_without_echo_or_dns_lookup(token, tmp_path):
    started = time.monotonic()
    result = databand_dbt(
        "collect",
        "--account-id",
        "1",
        "--run-id",
        "2",
        "--api-url",
        token,
        "--tracking-url",
        f"sqlite:///{tmp_path / 't.db'}",
    )
    assert_refused_unseen(result, token)
    assert "does not resolve" not in result.stderr  # refused before any lookup or request
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("flag", ["--token-file", "--tracking-url"])
def test_cli_refuses_a_token_as_token_file_or_tracking_url(flag, tmp_path):
    args = ["collect", "--account-id", "1", "--run-id", "2", "--api-url", "http://127.0.0.1:9", flag, SERVICE_TOKEN]
    if flag == "--token-file":
        args += ["--tracking-url", f"sqlite:///{tmp_path / 't.db'}"]
    assert_refused_unseen(databand_dbt(*args), SERVICE_TOKEN)


def test_cli_refuses_a_token_in_the_tracking_url_env(tmp_path):
    result = databand_dbt("runs", env_extra={"DATABAND_DBT_TRACKING_URL": BASE64_SECRET})
    output = result.stdout + result.stderr
    assert result.returncode != 0 and BASE64_SECRET not in output and "looks like an API token" in output


def test_monitor_refuses_a_token_as_api_token_env(tmp_path):
    config = tmp_path / "monitor.cfg"
    config.write_text(f"[dbt_monitor]\n\n[dbt_monitor.syncer.prod]\naccount_id = 1\napi_token_env = {SERVICE_TOKEN}\n")
    result = databand_dbt(
        "monitor", "--config", str(config), "--check-config", "--tracking-url", f"sqlite:///{tmp_path / 't.db'}"
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert SERVICE_TOKEN not in output and "looks like an API token" in output and "api_token_env" in output


@pytest.mark.parametrize(
    "url",
    [
        f"https://cloud.getdbt.com/{HEX_KEY}",
        f"https://cloud.getdbt.com/?token={BASE64_SECRET}",
        f"https://me:{HEX_KEY}@cloud.getdbt.com",
    ],
)
def test_a_token_inside_an_api_url_is_not_echoed(url):
    with pytest.raises(DbtCloudConfigError) as info:
        normalize_api_url(url)
    assert HEX_KEY not in str(info.value) and BASE64_SECRET not in str(info.value)
