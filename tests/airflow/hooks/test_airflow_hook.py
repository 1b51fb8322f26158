"""DbtCloudTrackingHook against the emulator over real HTTP: URLs, retries, errors, test_connection, collect_run."""

from __future__ import annotations

import asyncio
import time

import pytest

pytest.importorskip("airflow")

from dbt_airflow_helpers import connection_json, load_json  # noqa: E402

from airflow_provider_databand_dbt.testing.emulator import (  # noqa: E402
    DEMO_ACCOUNT_ID,
    DEMO_TOKEN,
    HOURLY_JOB_ID,
    NIGHTLY_JOB_ID,
    Fault,
)


@pytest.fixture()
def hook(dbt_cloud_conn):
    from airflow_provider_databand_dbt.hooks import DbtCloudTrackingHook

    return DbtCloudTrackingHook(retry_delay=0.05)


def _finished_run(emulator, job_id: int) -> int:
    return emulator.seeded_runs[job_id][-1]


class TestUrls:
    @pytest.mark.parametrize(
        ("tenant", "expected"),
        [
            ("cloud.getdbt.com", "https://cloud.getdbt.com/api/v2/accounts/1/runs/5/"),
            ("ab123.us1.dbt.com", "https://ab123.us1.dbt.com/api/v2/accounts/1/runs/5/"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/api/v2/accounts/1/runs/5/"),
            ("https://emea.dbt.com/", "https://emea.dbt.com/api/v2/accounts/1/runs/5/"),
        ],
    )
    def test_request_url_params_accept_tenant_or_base_url(self, tenant, expected):
        from airflow_provider_databand_dbt.hooks import DbtCloudTrackingHook

        url, params = DbtCloudTrackingHook.get_request_url_params(tenant, "1/runs/5/", ["job"])
        assert url == expected
        assert params == {"include_related": ["job"]}

    def test_sync_path_reaches_plain_http_loopback(self, hook, dbt_cloud_conn):
        run_id = _finished_run(dbt_cloud_conn, HOURLY_JOB_ID)
        assert hook.get_job_run_status(run_id) == 10
        assert hook.base_url == f"{dbt_cloud_conn.url}/"

    def test_async_path_reaches_plain_http_loopback(self, hook, dbt_cloud_conn):
        run_id = _finished_run(dbt_cloud_conn, NIGHTLY_JOB_ID)
        assert asyncio.run(hook.get_job_status(run_id)) == 20
        headers, base = asyncio.run(hook.get_headers_tenants_from_connection())
        assert base == dbt_cloud_conn.url


class TestRetries:
    def test_sync_429_is_retried_honouring_retry_after(self, hook, dbt_cloud_conn):
        run_id = _finished_run(dbt_cloud_conn, HOURLY_JOB_ID)
        dbt_cloud_conn.inject_fault(Fault(rf"/runs/{run_id}/$", status=429, retry_after=0.3, times=2))

        started = time.monotonic()
        assert hook.get_job_run_status(run_id) == 10
        statuses = [r.status for r in dbt_cloud_conn.requests if r.path.endswith(f"/runs/{run_id}/")]
        assert statuses == [429, 429, 200]
        assert time.monotonic() - started >= 0.6

    def test_async_429_is_retried_honouring_retry_after(self, hook, dbt_cloud_conn):
        run_id = _finished_run(dbt_cloud_conn, HOURLY_JOB_ID)
        dbt_cloud_conn.inject_fault(Fault(rf"/runs/{run_id}/$", status=429, retry_after=0.4, times=1))

        started = time.monotonic()
        assert asyncio.run(hook.get_job_status(run_id)) == 10
        assert time.monotonic() - started >= 0.4
        assert [r.status for r in dbt_cloud_conn.requests if r.path.endswith(f"/runs/{run_id}/")] == [429, 200]

    def test_retry_after_beyond_the_policy_budget_gives_up_at_once(self, hook, dbt_cloud_conn):
        from dataclasses import replace

        hook.retry_policy = replace(hook.retry_policy, max_total_seconds=1.0)
        run_id = _finished_run(dbt_cloud_conn, HOURLY_JOB_ID)
        dbt_cloud_conn.inject_fault(Fault(rf"/runs/{run_id}/$", status=429, retry_after=30, times=1))

        started = time.monotonic()
        with pytest.raises(Exception, match="429"):
            hook.get_job_run_status(run_id)
        assert time.monotonic() - started < 5

    def test_run_trigger_is_not_repeated_when_dbt_cloud_may_have_acted(self, hook, dbt_cloud_conn, caplog, capsys):
        # The client's rule, now the hook's: a 500 to POST .../run/ may have started a run.
        dbt_cloud_conn.inject_fault(Fault(rf"/jobs/{HOURLY_JOB_ID}/run/$", status=500, times=1, method="POST"))
        with caplog.at_level("WARNING"), pytest.raises(Exception, match="500"):
            hook.trigger_job_run(HOURLY_JOB_ID, cause="test")
        # The hook's logger: structlog on stdout under Airflow 3, the logging module under Airflow 2.
        assert "dbt Cloud may already have acted on it" in caplog.text + capsys.readouterr().out
        posts = [r for r in dbt_cloud_conn.requests if r.path.endswith(f"/jobs/{HOURLY_JOB_ID}/run/")]
        assert [r.status for r in posts] == [500]

    def test_run_trigger_is_repeated_after_a_429(self, hook, dbt_cloud_conn):
        dbt_cloud_conn.inject_fault(Fault(rf"/jobs/{HOURLY_JOB_ID}/run/$", status=429, times=1, method="POST"))
        run = hook.trigger_job_run(HOURLY_JOB_ID, cause="test").json()["data"]
        assert run["job_definition_id"] == HOURLY_JOB_ID
        posts = [r for r in dbt_cloud_conn.requests if r.path.endswith(f"/jobs/{HOURLY_JOB_ID}/run/")]
        assert [r.status for r in posts] == [429, 200]

    def test_retry_args_keep_the_providers_tenacity_retries(self, dbt_cloud_conn):
        from tenacity import stop_after_attempt, wait_none

        from airflow_provider_databand_dbt.hooks import DbtCloudTrackingHook

        hook = DbtCloudTrackingHook(retry_args={"stop": stop_after_attempt(3), "wait": wait_none()})
        run_id = _finished_run(dbt_cloud_conn, HOURLY_JOB_ID)
        dbt_cloud_conn.inject_fault(Fault(rf"/runs/{run_id}/$", status=500, times=2))
        assert hook.get_job_run_status(run_id) == 10
        assert [r.status for r in dbt_cloud_conn.requests if r.path.endswith(f"/runs/{run_id}/")] == [500, 500, 200]

    def test_sync_5xx_outlasting_retries_raises_without_token(self, dbt_cloud_conn):
        from airflow_provider_databand_dbt.hooks import DbtCloudTrackingHook

        hook = DbtCloudTrackingHook(retry_limit=2, retry_delay=0.01)
        run_id = _finished_run(dbt_cloud_conn, HOURLY_JOB_ID)
        dbt_cloud_conn.inject_fault(Fault(rf"/runs/{run_id}/$", status=503))
        with pytest.raises(Exception, match="503") as excinfo:
            hook.get_job_run_status(run_id)
        assert DEMO_TOKEN not in str(excinfo.value)
        assert len([r for r in dbt_cloud_conn.requests if r.path.endswith(f"/runs/{run_id}/")]) == 2

    def test_async_5xx_is_retried(self, hook, dbt_cloud_conn):
        run_id = _finished_run(dbt_cloud_conn, HOURLY_JOB_ID)
        dbt_cloud_conn.inject_fault(Fault(rf"/runs/{run_id}/$", status=502, times=1))
        assert asyncio.run(hook.get_job_status(run_id)) == 10
        assert [r.status for r in dbt_cloud_conn.requests if r.path.endswith(f"/runs/{run_id}/")] == [502, 200]

    def test_not_found_is_a_clear_airflow_error_not_retried(self, hook, dbt_cloud_conn):
        from airflow_provider_databand_dbt.airflow_compat import AirflowException

        with pytest.raises(AirflowException, match=r"404 .*GET /api/v2/accounts/1/runs/999/"):
            hook.get_job_run(999)
        assert len([r for r in dbt_cloud_conn.requests if r.path.endswith("/runs/999/")]) == 1


class TestConnectionErrors:
    @pytest.mark.parametrize("case", load_json("bad_connections.json"), ids=lambda case: case["id"])
    def test_bad_connection_field_is_named(self, case, emulator, monkeypatch):
        from airflow_provider_databand_dbt.airflow_compat import AirflowException
        from airflow_provider_databand_dbt.hooks import DbtCloudTrackingHook

        monkeypatch.setenv("AIRFLOW_CONN_DBT_CLOUD_DEFAULT", connection_json(emulator, **case["overrides"]))
        with pytest.raises(AirflowException) as excinfo:
            DbtCloudTrackingHook().collect_run(emulator.seeded_runs[HOURLY_JOB_ID][0])
        message = str(excinfo.value)
        for part in case["expect"]:
            assert part in message
        assert "dbt_cloud_default" in message
        assert DEMO_TOKEN not in message

    def test_missing_connection_says_how_to_create_it(self, monkeypatch):
        from airflow_provider_databand_dbt.airflow_compat import (
            AirflowNotFoundException,
        )
        from airflow_provider_databand_dbt.hooks import DbtCloudTrackingHook

        monkeypatch.delenv("AIRFLOW_CONN_NO_SUCH_DBT", raising=False)
        with pytest.raises(AirflowNotFoundException, match=r"'no_such_dbt' is not defined.*AIRFLOW_CONN_NO_SUCH_DBT"):
            DbtCloudTrackingHook("no_such_dbt").collect_run(1)

    def test_non_numeric_run_id_is_named(self, hook):
        from airflow_provider_databand_dbt.airflow_compat import AirflowException

        with pytest.raises(AirflowException, match="run_id must be a positive integer"):
            hook.collect_run("latest")


class TestTestConnection:
    def test_calls_the_authenticated_account_endpoint(self, hook, dbt_cloud_conn):
        ok, message = hook.test_connection()
        assert ok, message
        assert message == f"Connected to dbt Cloud account {DEMO_ACCOUNT_ID} (Demo analytics) at {dbt_cloud_conn.url}."
        assert [r.path for r in dbt_cloud_conn.requests] == [f"/api/v2/accounts/{DEMO_ACCOUNT_ID}/"]

    def test_wrong_token_fails_with_a_hint_and_no_token(self, emulator, monkeypatch):
        from airflow_provider_databand_dbt.hooks import DbtCloudTrackingHook

        wrong = "dbtc_wrong_token_value_1234567890"
        monkeypatch.setenv("AIRFLOW_CONN_DBT_CLOUD_DEFAULT", connection_json(emulator, password=wrong))
        ok, message = DbtCloudTrackingHook().test_connection()
        assert not ok
        assert "401" in message and "Password" in message
        assert wrong not in message and DEMO_TOKEN not in message

    def test_unknown_account_fails(self, emulator, monkeypatch):
        from airflow_provider_databand_dbt.hooks import DbtCloudTrackingHook

        monkeypatch.setenv("AIRFLOW_CONN_DBT_CLOUD_DEFAULT", connection_json(emulator, login="424242"))
        ok, message = DbtCloudTrackingHook().test_connection()
        assert not ok
        assert "/api/v2/accounts/424242/" in message


class TestCollectRun:
    def test_collects_and_stores_with_api_source_outside_a_task(self, hook, dbt_cloud_conn, default_store):
        run_id = _finished_run(dbt_cloud_conn, NIGHTLY_JOB_ID)
        report = hook.collect_run(run_id)
        assert report.status == "error"
        assert report.failed_nodes()
        stored = default_store.get_report(run_id)
        assert stored is not None and stored.status == "error"
        assert [source.kind for source in default_store.list_sources(run_id)] == ["api"]

    def test_explicit_source_account_and_tracking_url(self, hook, dbt_cloud_conn, tmp_path):
        from airflow_provider_databand_dbt.model.source import TrackingSource
        from airflow_provider_databand_dbt.tracking.store import TrackingStore

        url = f"sqlite:///{tmp_path / 'explicit.db'}"
        run_id = _finished_run(dbt_cloud_conn, HOURLY_JOB_ID)
        hook.collect_run(
            str(run_id), account_id=str(DEMO_ACCOUNT_ID), tracking_url=url, source=TrackingSource(kind="cli", name="me")
        )
        store = TrackingStore(url)
        try:
            assert store.get_report(run_id).status == "success"
            assert [(s.kind, s.name) for s in store.list_sources(run_id)] == [("cli", "me")]
        finally:
            store.close()

    def test_airflow_config_section_wins_over_env(self, hook, dbt_cloud_conn, tmp_path, monkeypatch, default_store):
        from airflow_provider_databand_dbt.tracking.store import TrackingStore

        url = f"sqlite:///{tmp_path / 'from-airflow-conf.db'}"
        monkeypatch.setenv("AIRFLOW__DATABAND_DBT__TRACKING_URL", url)
        run_id = _finished_run(dbt_cloud_conn, HOURLY_JOB_ID)
        hook.collect_run(run_id)
        store = TrackingStore(url)
        try:
            assert store.get_report(run_id) is not None
        finally:
            store.close()
        assert default_store.get_report(run_id) is None

    def test_store_false_only_returns_the_report(self, hook, dbt_cloud_conn, default_store):
        run_id = _finished_run(dbt_cloud_conn, HOURLY_JOB_ID)
        assert hook.collect_run(run_id, store=False).run_id == run_id
        assert default_store.get_report(run_id) is None
