"""Which store URL is used, how it is normalised, and how it is shown without its password."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from airflow_provider_databand_dbt.tracking.errors import TrackingStoreUnavailable
from airflow_provider_databand_dbt.tracking.store import TrackingStore
from airflow_provider_databand_dbt.tracking.url import display_url, parse_tracking_url, resolve_tracking_url

ENV = "DATABAND_DBT_TRACKING_URL"
AIRFLOW_ENV = "AIRFLOW__DATABAND_DBT__TRACKING_URL"


def test_explicit_url_wins_over_both_env_settings(monkeypatch):
    monkeypatch.setenv(ENV, "sqlite:////tmp/from-env.db")
    monkeypatch.setenv(AIRFLOW_ENV, "sqlite:////tmp/from-airflow.db")

    assert resolve_tracking_url("sqlite:////tmp/explicit.db") == "sqlite:////tmp/explicit.db"
    assert resolve_tracking_url() == "sqlite:////tmp/from-env.db"
    assert resolve_tracking_url("   ") == "sqlite:////tmp/from-env.db"  # blank means unset


def test_airflow_setting_is_used_when_our_env_is_unset(monkeypatch):
    monkeypatch.delenv(ENV)
    monkeypatch.setenv(AIRFLOW_ENV, "postgresql://airflow@db/tracking")

    assert resolve_tracking_url() == "postgresql://airflow@db/tracking"


def test_default_under_airflow_home_is_created(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))

    url = resolve_tracking_url()

    assert url == f"sqlite:///{tmp_path / 'airflow' / 'databand_dbt' / 'tracking.db'}"
    assert (tmp_path / "airflow" / "databand_dbt").is_dir()


def test_default_in_home_directory_is_created_and_usable(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV)
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))

    url = resolve_tracking_url()

    assert url == f"sqlite:///{tmp_path / '.databand_dbt' / 'tracking.db'}"
    with TrackingStore() as store:
        assert store.display_url == url
    assert (tmp_path / ".databand_dbt" / "tracking.db").is_file()


def test_uncreatable_default_directory_is_reported(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV)
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("")
    monkeypatch.setenv("AIRFLOW_HOME", str(blocker))

    with pytest.raises(TrackingStoreUnavailable, match="cannot create the default tracking store directory"):
        resolve_tracking_url()


@pytest.mark.parametrize(
    "url",
    [
        "postgres://u:pw@db:5432/tracking",
        "postgresql://u:pw@db:5432/tracking",
        "postgresql+psycopg://u:pw@db:5432/tracking",
    ],
)
def test_postgres_urls_use_psycopg3_or_on_sqlalchemy_1_its_default_driver(url):
    parsed = parse_tracking_url(url)

    # SQLAlchemy 1.4 (beside Airflow 2) has no psycopg 3 dialect: there "postgresql" means psycopg2.
    assert parsed.drivername == ("postgresql" if sa.__version__.startswith("1.") else "postgresql+psycopg")
    assert (parsed.username, parsed.password, parsed.host, parsed.port, parsed.database) == (
        "u",
        "pw",
        "db",
        5432,
        "tracking",
    )


def test_tilde_in_sqlite_path_is_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))

    assert parse_tracking_url("sqlite:///~/tracking.db").database == str(tmp_path / "tracking.db")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://alice:s3cret@db:5432/tracking", "postgresql+psycopg://alice:***@db:5432/tracking"),
        ("postgresql://alice@db/tracking", "postgresql://alice@db/tracking"),
        ("sqlite:////var/lib/tracking.db", "sqlite:////var/lib/tracking.db"),
        ("postgresql://alice:s3cret@db:notaport/x", "postgresql://alice:***@db:notaport/x"),  # unparsable, still masked
        (None, "<no url>"),
    ],
)
def test_display_url_masks_passwords(url, shown):
    assert display_url(url) == shown


def test_store_shows_its_url_without_the_password(tracking_url):
    url = sa.engine.make_url(tracking_url)
    if url.get_backend_name() == "postgresql":
        url = url.set(password="s3cret")  # the test server trusts local users, so any password opens it
    with TrackingStore(url.render_as_string(hide_password=False)) as store:
        shown = [store.display_url, repr(store), str(store.url)]

    assert all("s3cret" not in text for text in shown[:2]), shown
    if url.password:
        assert ":***@" in store.display_url
    assert "s3cret" not in shown[2], shown  # on SQLAlchemy 1.4 too, whose str(URL) shows passwords
