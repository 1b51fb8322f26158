"""Shared fixtures: a real dbt Cloud API emulator over HTTP and real tracking stores (SQLite, PostgreSQL).

PostgreSQL tests run when ``DATABAND_DBT_TEST_POSTGRES_URL`` points at a server (``.ci/run`` starts one);
without it they skip, or fail under CI (see required_services.py).
"""

from __future__ import annotations

import contextlib
import os
import uuid

import pytest
from required_services import missing_service

POSTGRES_URL = os.environ.get("DATABAND_DBT_TEST_POSTGRES_URL")


@pytest.fixture()
def emulator():
    """A freshly seeded emulator (demo account, projects, jobs, finished runs) on a free loopback port."""
    from airflow_provider_databand_dbt.testing.emulator import DbtCloudEmulator

    with DbtCloudEmulator() as emu:
        yield emu


@contextlib.contextmanager
def postgres_database():
    """A new empty database on the test server, so tests never see each other's rows; dropped afterwards."""
    import sqlalchemy as sa

    name = f"dbt_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:  # FORCE: a test's subprocess may still hold a connection
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def tracking_url(request, tmp_path):
    """A store URL for each backend: a temp SQLite file, and a fresh PostgreSQL database when configured."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tracking.db'}"
        return
    if not POSTGRES_URL:
        missing_service("PostgreSQL", "set DATABAND_DBT_TEST_POSTGRES_URL")
    with postgres_database() as url:
        yield url


@pytest.fixture()
def postgres_url():
    """A fresh PostgreSQL database (tests that need PostgreSQL itself, e.g. to take it away)."""
    if not POSTGRES_URL:
        missing_service("PostgreSQL", "set DATABAND_DBT_TEST_POSTGRES_URL")
    with postgres_database() as url:
        yield url


@pytest.fixture()
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'tracking.db'}"


@pytest.fixture()
def store(tracking_url):
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    tracking_store = TrackingStore(tracking_url)
    yield tracking_store
    tracking_store.close()


@pytest.fixture(autouse=True)
def _isolated_default_store(tmp_path, monkeypatch):
    """Never let a test write to the user's real default store."""
    monkeypatch.setenv("DATABAND_DBT_TRACKING_URL", f"sqlite:///{tmp_path / 'default-tracking.db'}")
    monkeypatch.delenv("AIRFLOW__DATABAND_DBT__TRACKING_URL", raising=False)
