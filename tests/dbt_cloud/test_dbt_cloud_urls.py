"""What users may pass as API URL, ids and token, and the messages they get otherwise."""

from __future__ import annotations

import json

import pytest

from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudConfigError
from airflow_provider_databand_dbt.dbt_cloud.urls import (
    json_list_param,
    normalize_api_url,
    validate_artifact_path,
    validate_id,
    validate_token,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("cloud.getdbt.com", "https://cloud.getdbt.com"),
        ("emea.dbt.com", "https://emea.dbt.com"),
        ("au.dbt.com/", "https://au.dbt.com"),
        ("https://cloud.getdbt.com", "https://cloud.getdbt.com"),
        ("https://cloud.getdbt.com/", "https://cloud.getdbt.com"),
        ("  https://ab123.us1.dbt.com/  ", "https://ab123.us1.dbt.com"),
        ("HTTPS://AB123.US1.dbt.com", "https://ab123.us1.dbt.com"),
        ("https://cloud.getdbt.com:443", "https://cloud.getdbt.com"),
        ("https://cloud.getdbt.com:8443/", "https://cloud.getdbt.com:8443"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://localhost:5000", "http://localhost:5000"),
        ("http://[::1]:5000", "http://[::1]:5000"),
        ("localhost:8443", "https://localhost:8443"),
    ],
)
def test_normalize_api_url_accepts(value, expected):
    assert normalize_api_url(value) == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (None, "empty"),
        ("https://cloud.getdbt.com/api/v2", "path"),
        ("cloud.getdbt.com/api/v2/", "path"),
        ("https://cloud.getdbt.com?account=1", "query"),
        ("https://cloud.getdbt.com/#x", "fragment"),
        ("https://cloud.getdbt .com", "whitespace"),
        ("ftp://cloud.getdbt.com", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("mailto:someone", "scheme"),
        ("http://cloud.getdbt.com", "clear text"),
        ("http://10.0.0.5:8080", "clear text"),
        ("https://cloud.getdbt.com:0", "port"),
        ("https://cloud.getdbt.com:99999", "port"),
        ("https://cloud.getdbt.com:abc", "port"),
        ("https://cloud.getdbt.com:", "port"),
        ("https://", "host"),
        ("https://bad_host!.com", "host"),
    ],
)
def test_normalize_api_url_rejects_with_a_clear_message(value, words):
    with pytest.raises(DbtCloudConfigError) as info:
        normalize_api_url(value)
    assert words in str(info.value)
    assert "cloud.getdbt.com" in str(info.value)  # the message shows a valid example


def test_url_with_credentials_is_rejected_without_echoing_them():
    with pytest.raises(DbtCloudConfigError) as info:
        normalize_api_url("https://me:dbtc_SECRETSECRET@cloud.getdbt.com")
    assert "user name or password" in str(info.value)
    assert "SECRET" not in str(info.value)


def test_query_string_is_never_echoed():
    with pytest.raises(DbtCloudConfigError) as info:
        normalize_api_url("https://cloud.getdbt.com/?token=dbtc_SECRETSECRET")
    assert "SECRET" not in str(info.value)


@pytest.mark.parametrize(("value", "expected"), [(1, 1), ("42", 42), (" 7 ", 7), (70403110000101, 70403110000101)])
def test_validate_id_accepts_positive_ints_and_digit_strings(value, expected):
    assert validate_id(value, "run_id") == expected


@pytest.mark.parametrize("value", ["abc", "", "  ", -1, 0, "0", "-3", 1.5, 2.0, True, False, None, "1e3", "١٢", [1]])
def test_validate_id_rejects_naming_the_parameter(value):
    with pytest.raises(DbtCloudConfigError) as info:
        validate_id(value, "account_id")
    assert "account_id must be a positive integer" in str(info.value)


def test_validate_id_never_echoes_a_long_string():
    """A token passed in the id's position must not end up in the error (and so in a log)."""
    with pytest.raises(DbtCloudConfigError) as info:
        validate_id("dbtc_abcdefghijklmnopqrstuvwxyz0123456789", "account_id")
    assert "dbtc_" not in str(info.value)
    assert "41-character string" in str(info.value)


@pytest.mark.parametrize("token", ["", "   ", None, 123])
def test_empty_token_is_rejected(token):
    with pytest.raises(DbtCloudConfigError, match="token is empty"):
        validate_token(token)


@pytest.mark.parametrize("token", ["Token dbtc_abc", "dbtc_a\nbc", "Bearer x"])
def test_token_with_whitespace_is_rejected_without_echo(token):
    with pytest.raises(DbtCloudConfigError) as info:
        validate_token(token)
    assert "dbtc_" not in str(info.value)
    assert "without a 'Token ' or 'Bearer ' prefix" in str(info.value)


def test_token_is_stripped():
    assert validate_token("  dbtc_abc \n") == "dbtc_abc"


def test_non_ascii_token_is_rejected():
    with pytest.raises(DbtCloudConfigError, match="non-ASCII"):
        validate_token("dbtc_é")


@pytest.mark.parametrize(
    ("path", "quoted"), [("manifest.json", "manifest.json"), ("compiled/a b.sql", "compiled/a%20b.sql")]
)
def test_artifact_path_is_quoted(path, quoted):
    assert validate_artifact_path(path) == quoted


@pytest.mark.parametrize("path", ["", "/etc/passwd", "../x.json", "a//b", "a/./b", "a\\b"])
def test_artifact_path_must_be_relative(path):
    with pytest.raises(DbtCloudConfigError):
        validate_artifact_path(path)


def test_include_related_is_a_json_list():
    value = json_list_param(("run_steps", "job", "trigger"))
    assert value == '["run_steps","job","trigger"]'
    assert json.loads(value) == ["run_steps", "job", "trigger"]
    assert json_list_param(()) is None
    with pytest.raises(DbtCloudConfigError):
        json_list_param(["job", ""])
