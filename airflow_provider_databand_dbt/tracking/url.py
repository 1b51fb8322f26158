"""Where the tracking store lives: resolve its URL from settings, normalise it, and show it without a password."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple, Optional, Union

import sqlalchemy as sa
from sqlalchemy.engine import URL

from airflow_provider_databand_dbt.tracking.errors import TrackingStoreUnavailable

ENV_TRACKING_URL = "DATABAND_DBT_TRACKING_URL"
ENV_AIRFLOW_TRACKING_URL = "AIRFLOW__DATABAND_DBT__TRACKING_URL"
DEFAULT_DIR_NAME = ".databand_dbt"
AIRFLOW_DIR_NAME = "databand_dbt"
DB_FILE_NAME = "tracking.db"

SUPPORTED_BACKENDS = ("sqlite", "postgresql")
URL_EXAMPLES = "sqlite:////path/to/tracking.db or postgresql+psycopg://user:password@host:5432/dbname"
# Both spellings PostgreSQL users paste; we talk to it through psycopg 3. SQLAlchemy 1.4 (beside
# Airflow 2) has no psycopg 3 dialect, so there the aliases keep SQLAlchemy's default driver, psycopg2.
SQLALCHEMY_1 = sa.__version__.startswith("1.")
_POSTGRES_ALIASES = {"postgres", "postgresql", "postgres+psycopg", "postgresql+psycopg"}
POSTGRES_DRIVER = "postgresql" if SQLALCHEMY_1 else "postgresql+psycopg"
# Masks "scheme://user:password@" in strings SQLAlchemy cannot parse, so errors never echo a password.
_USERINFO_PASSWORD = re.compile(r"(?P<head>://[^:/@\s]*:)[^@\s]*(?P<tail>@)")


def resolve_tracking_url(explicit: Optional[str] = None) -> str:
    """The store URL to use: the first of explicit value, env settings, then a SQLite file in a default place.

    Order: ``explicit`` (e.g. from a CLI flag or Airflow's ``[databand_dbt] tracking_url``), env
    ``DATABAND_DBT_TRACKING_URL``, env ``AIRFLOW__DATABAND_DBT__TRACKING_URL``, then
    ``sqlite:///$AIRFLOW_HOME/databand_dbt/tracking.db`` when ``AIRFLOW_HOME`` is set, else
    ``sqlite:///~/.databand_dbt/tracking.db``. The default directory is created when missing.

    :param explicit: a SQLAlchemy URL that wins over every other setting; blank counts as unset.
    """
    choice = choose_tracking_url(explicit)
    if choice.default_dir is None:
        return choice.url
    directory = choice.default_dir
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrackingStoreUnavailable(
            f"cannot create the default tracking store directory {directory}: {exc.strerror or exc}; "
            f"set {ENV_TRACKING_URL} to a writable location ({URL_EXAMPLES})"
        ) from exc
    return choice.url


def display_url(url: Union[str, URL, None]) -> str:
    """The URL with any password replaced by ``***``, safe for logs, errors and the CLI.

    :param url: a URL string (parsable or not) or a SQLAlchemy ``URL``.
    """
    if url is None:
        return "<no url>"
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # unparsable: mask by pattern, never echo it raw
        return _USERINFO_PASSWORD.sub(r"\g<head>***\g<tail>", str(url))


def parse_tracking_url(url: str) -> URL:
    """Parse and normalise a store URL: PostgreSQL goes through psycopg 3, ``~`` in SQLite paths is expanded.

    :param url: a SQLAlchemy URL for SQLite or PostgreSQL.
    :raises TrackingStoreUnavailable: the URL cannot be parsed or names a database we do not support.
    """
    try:
        parsed = sa.engine.make_url(url)
    except Exception as exc:  # ArgumentError, ValueError from bad ports...
        raise TrackingStoreUnavailable(
            f"cannot parse the tracking store URL {display_url(url)!r}: expected a SQLAlchemy URL such as "
            f"{URL_EXAMPLES}; fix {ENV_TRACKING_URL} or the tracking_url setting"
        ) from exc
    drivername = parsed.drivername.lower()
    if drivername in _POSTGRES_ALIASES:
        return parsed.set(drivername=POSTGRES_DRIVER)
    backend = drivername.split("+", 1)[0]
    if backend not in SUPPORTED_BACKENDS:
        raise TrackingStoreUnavailable(
            f"the tracking store URL {display_url(parsed)} uses the unsupported database {parsed.drivername!r}: "
            f"use SQLite or PostgreSQL ({URL_EXAMPLES})"
        )
    if backend == "sqlite" and parsed.database and not is_sqlite_uri(parsed) and parsed.database.startswith("~"):
        parsed = parsed.set(database=os.path.expanduser(parsed.database))
    return parsed


def is_sqlite_uri(url: URL) -> bool:
    """True for ``sqlite:///file:...?uri=true`` URLs, whose path and options SQLite parses itself."""
    return str(url.query.get("uri", "")).lower() in ("true", "1")


def is_sqlite_memory(url: URL) -> bool:
    return not url.database or url.database == ":memory:"


PRECEDENCE = (
    f"--tracking-url, then ${ENV_TRACKING_URL}, then ${ENV_AIRFLOW_TRACKING_URL}, then "
    f"$AIRFLOW_HOME/{AIRFLOW_DIR_NAME}/{DB_FILE_NAME} when AIRFLOW_HOME is set, else ~/{DEFAULT_DIR_NAME}/{DB_FILE_NAME}"
)


class TrackingUrlChoice(NamedTuple):
    """Which store URL is used and why, so people can tell which store they are reading.

    :param url: the URL as given (may hold a password: show it with :func:`display_url`).
    :param reason: the rule that picked it, e.g. ``set by $DATABAND_DBT_TRACKING_URL``.
    :param default_dir: the default directory when no setting was found, else None.
    """

    url: str
    reason: str
    default_dir: Optional[Path] = None

    def describe(self) -> str:
        """``<url without password> (<reason>)``, for --help, ``info`` and log lines."""
        return f"{display_url(self.url)} ({self.reason})"


def choose_tracking_url(explicit: Optional[str] = None, explicit_origin: str = "the tracking_url setting") -> TrackingUrlChoice:
    """The store URL :func:`resolve_tracking_url` would use and the rule that chose it; creates nothing.

    :param explicit: a URL that wins over every other setting (a CLI flag, Airflow's config); blank is unset.
    :param explicit_origin: how to name ``explicit`` in the reason, e.g. ``--tracking-url``.
    """
    settings = (
        (explicit, explicit_origin),
        (os.environ.get(ENV_TRACKING_URL), f"${ENV_TRACKING_URL}"),
        (os.environ.get(ENV_AIRFLOW_TRACKING_URL), f"${ENV_AIRFLOW_TRACKING_URL}"),
    )
    for candidate, origin in settings:
        if candidate and candidate.strip():
            return TrackingUrlChoice(candidate.strip(), f"set by {origin}")
    airflow_home = os.environ.get("AIRFLOW_HOME", "").strip()
    if airflow_home:
        directory = Path(airflow_home).expanduser() / AIRFLOW_DIR_NAME
        reason = (f"default under $AIRFLOW_HOME={airflow_home}: neither ${ENV_TRACKING_URL} "
                  f"nor ${ENV_AIRFLOW_TRACKING_URL} is set")
    else:
        directory = Path("~").expanduser() / DEFAULT_DIR_NAME
        reason = (f"default ~/{DEFAULT_DIR_NAME}: none of ${ENV_TRACKING_URL}, ${ENV_AIRFLOW_TRACKING_URL} "
                  "or $AIRFLOW_HOME is set")
    return TrackingUrlChoice(f"sqlite:///{directory / DB_FILE_NAME}", reason, directory)
