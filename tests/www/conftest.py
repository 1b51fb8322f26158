"""Fixtures for the web view: a store filled through the emulator + collector, once per module and backend."""

from __future__ import annotations

import os
import uuid

import pytest
from required_services import missing_service

POSTGRES_URL = os.environ.get("DATABAND_DBT_TEST_POSTGRES_URL")


def _fresh_postgres_url() -> str:
    import sqlalchemy as sa

    name = f"dbt_www_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def web_db(request, tmp_path_factory):
    """``(store_url, Filled)``: a store holding the emulator's history, shared by a module's read-only tests."""
    from web_fill import fill_store

    from airflow_provider_databand_dbt.testing.emulator import DbtCloudEmulator
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('www') / 'tracking.db'}"
    elif not POSTGRES_URL:
        missing_service("PostgreSQL", "set DATABAND_DBT_TEST_POSTGRES_URL")
    else:
        url = _fresh_postgres_url()
    with DbtCloudEmulator() as emulator, TrackingStore(url) as store:
        filled = fill_store(store, emulator)
    return url, filled


@pytest.fixture(scope="module")
def client(web_db):
    """A test client of the web view over the filled store (read-only, so shared by the module)."""
    from fastapi.testclient import TestClient

    from airflow_provider_databand_dbt.www.app import create_app

    app = create_app(web_db[0], airflow_url="http://airflow.example:8080")
    with TestClient(app) as test_client:
        yield test_client
    app.state.store.close()


@pytest.fixture()
def filled(web_db):
    return web_db[1]


@pytest.fixture()
def app_for(tmp_path):
    """Build a web view client over a given store URL (for tests that need their own store)."""
    from fastapi.testclient import TestClient

    from airflow_provider_databand_dbt.www.app import create_app

    made = []

    def make(url: str, **options) -> TestClient:
        app = create_app(url, **options)
        made.append(app)
        return TestClient(app)

    yield make
    for app in made:
        app.state.store.close()
