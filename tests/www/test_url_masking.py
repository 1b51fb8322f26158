"""Store credentials never reach a viewer: ``?password=`` style URLs are masked everywhere they are printed,
and the web view's error pages do not name the database user or host (every viewer is anonymous)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import httpx
import pytest
import sqlalchemy as sa
from ui_load import UiServer, free_port

from airflow_provider_databand_dbt.tracking.store import TrackingStore
from airflow_provider_databand_dbt.tracking.url import display_url, public_url

POSTGRES_URL = os.environ.get("DATABAND_DBT_TEST_POSTGRES_URL")
SECRET = "s3cret-Query-pw"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql+psycopg://bob@db:5432/t?password={SECRET}", "postgresql+psycopg://bob@db:5432/t?password=***"),
        (
            f"postgresql://bob:{SECRET}@db/t?sslpassword={SECRET}&sslmode=require&passfile=/home/bob/.pgpass",
            "postgresql://bob:***@db/t?sslpassword=***&sslmode=require&passfile=***",
        ),
        (
            f"postgresql://db/t?sslkey=/k.pem&application_name=x&PASSWORD={SECRET}",
            "postgresql://db/t?sslkey=***&application_name=x&PASSWORD=***",
        ),
        # Unparsable (bad port): masked by pattern, never echoed raw.
        (
            f"postgresql://bob:{SECRET}@db:port/t?password={SECRET}&sslmode=x",
            "postgresql://bob:***@db:port/t?password=***&sslmode=x",
        ),
        ("sqlite:////var/lib/tracking.db", "sqlite:////var/lib/tracking.db"),
    ],
)
def test_display_url_masks_every_credential(url, shown):
    assert display_url(url) == shown
    assert display_url(sa.engine.make_url(url)) == shown if "port/" not in url else True


def test_public_url_names_no_user_host_or_options():
    assert (
        public_url(f"postgresql+psycopg://bob:{SECRET}@db.internal:5432/t?password={SECRET}")
        == "postgresql+psycopg://…/t"
    )
    assert public_url("sqlite:////var/lib/tracking.db") == "sqlite:////var/lib/tracking.db"


def _query_password_url(database_url: str) -> str:
    """A test database's URL with the password given libpq-style; the server trusts local users, so it opens."""
    url = sa.engine.make_url(database_url)
    return url.set(password=None, query={**url.query, "password": SECRET}).render_as_string(hide_password=False)


def test_ui_banner_and_health_mask_a_query_password(tracking_url):
    if not tracking_url.startswith("postgresql"):
        pytest.skip("a libpq ?password= parameter is PostgreSQL's")
    url = _query_password_url(tracking_url)
    TrackingStore(url).close()  # the web view only reads: the store must exist
    user, host = sa.engine.make_url(url).username, sa.engine.make_url(url).host
    with UiServer(url) as server:
        health = httpx.get(f"{server.base}/api/health")
        page = httpx.get(f"{server.base}/")
    out = server.stdout + server.stderr
    assert health.status_code == 200 and SECRET not in health.text
    assert f"@{host}" not in health.json()["store"] and f"{user}@" not in health.json()["store"]
    assert SECRET not in page.text and f"{user}@{host}" not in page.text
    assert "password=***" in out and SECRET not in out


def test_cli_error_masks_a_query_password(tmp_path):
    url = f"postgresql+psycopg://bob@127.0.0.1:{free_port()}/nodb?password={SECRET}&connect_timeout=2"
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_databand_dbt.cli", "runs", "--tracking-url", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert "password=***" in result.stderr
    assert SECRET not in result.stderr + result.stdout


def test_error_pages_do_not_name_the_database_user_or_host(app_for, caplog):
    port = free_port()
    client = app_for(f"postgresql+psycopg://dbadmin:{SECRET}@127.0.0.1:{port}/nodb?password={SECRET}&connect_timeout=2")
    with caplog.at_level(logging.WARNING, logger="airflow_provider_databand_dbt.www.errors"):
        page = client.get("/runs/1")
        api = client.get("/api/health")
    for response in (page, api):
        assert response.status_code == 503
        assert response.headers["retry-after"]
        for hidden in (SECRET, "dbadmin", "127.0.0.1", str(port)):
            assert hidden not in response.text, hidden
    assert "Tracking store unavailable" in page.text
    assert str(port) in caplog.text and SECRET not in caplog.text  # the detail stays in the server log
