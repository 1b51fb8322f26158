"""DbtCloudTrackingHook answers like the provider's DbtCloudHook where code written for it looks.

Each test reproduces a failure of the provider's own unit tests run with our hook substituted
(scripts/upstream_provider_tests.py), here with real connections (``AIRFLOW_CONN_*``) and the emulator.
"""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("airflow")

from dbt_airflow_helpers import connection_json

from airflow_provider_databand_dbt.testing.emulator import DEMO_TOKEN


def _headers_and_tenant(hook_class):
    return asyncio.run(hook_class().get_headers_tenants_from_connection())


@pytest.mark.parametrize(
    ("host", "tenant"),
    [
        ("single.tenant.getdbt.com", "single.tenant.getdbt.com"),
        ("ab123.us1.dbt.com", "ab123.us1.dbt.com"),
        (None, "cloud.getdbt.com"),
        ("https://emea.dbt.com/", "emea.dbt.com"),
    ],
)
def test_async_tenant_is_the_bare_domain_like_the_provider(host, tenant, emulator, monkeypatch):
    from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudHook

    from airflow_provider_databand_dbt.hooks import DbtCloudTrackingHook

    monkeypatch.setenv("AIRFLOW_CONN_DBT_CLOUD_DEFAULT", connection_json(emulator, host=host))
    headers, ours = _headers_and_tenant(DbtCloudTrackingHook)
    assert ours == tenant
    assert headers["Authorization"] == f"Token {DEMO_TOKEN}"
    if "://" not in (host or ""):
        assert ours == _headers_and_tenant(DbtCloudHook)[1]


def test_async_tenant_keeps_the_scheme_and_port_of_a_local_server(dbt_cloud_conn):
    from airflow_provider_databand_dbt.hooks import DbtCloudTrackingHook

    _, tenant = _headers_and_tenant(DbtCloudTrackingHook)
    assert tenant == dbt_cloud_conn.url  # http://127.0.0.1:PORT: the provider's https://{tenant} cannot say it
    url, _ = DbtCloudTrackingHook.get_request_url_params(tenant, "1/runs/5/")
    assert url == f"{dbt_cloud_conn.url}/api/v2/accounts/1/runs/5/"


@pytest.mark.parametrize("path", ["sync", "async"])
def test_missing_token_keeps_the_providers_phrase_and_names_the_field(path, emulator, monkeypatch):
    from airflow_provider_databand_dbt.airflow_compat import AirflowException
    from airflow_provider_databand_dbt.hooks import DbtCloudTrackingHook

    monkeypatch.setenv("AIRFLOW_CONN_DBT_CLOUD_DEFAULT", connection_json(emulator, password=None))
    hook = DbtCloudTrackingHook()
    with pytest.raises(AirflowException, match="An API token is required") as excinfo:
        if path == "sync":
            hook.connection  # noqa: B018 - the property resolves and checks the connection
        else:
            asyncio.run(hook._resolve_connection_async())
    assert "'dbt_cloud_default' has no API token" in str(excinfo.value)
    assert "Password" in str(excinfo.value)
