"""Where the tracking store lives: resolve its URL from settings, normalise it, and show it without a password."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple, Optional, Union
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import URL

from airflow_provider_databand_dbt.dbt_cloud.tokens import TOKEN_HINT, looks_like_token
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
MASK = "***"
# Query parameters whose value is a secret or says where one is (libpq's password, sslpassword,
# passfile, sslkey; tokens and keys of other URLs): the key stays visible, the value is masked.
_SECRET_KEY = re.compile(r"pass|pwd|secret|token|key|credential", re.IGNORECASE)
# The same two masks as patterns, for strings SQLAlchemy cannot parse: "scheme://user:password@"
# and "?password=..." / "&sslpassword=...".
_USERINFO_PASSWORD = re.compile(r"(?P<head>://[^:/@\s]*:)[^@\s]*(?P<tail>@)")
_SECRET_PARAM = re.compile(
    r"(?P<head>[?&;][^=&;#\s]*(?:pass|pwd|secret|token|key|credential)[^=&;#\s]*=)[^&;#\s]*", re.IGNORECASE
)


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
    """The URL with every credential masked, safe for logs, errors, the CLI and the web view.

    The one masking function for URLs we print: the userinfo password and the value of every
    secret-looking query parameter (``password``, ``sslpassword``, ``passfile``, ``sslkey``,
    ``token``...) become ``***``; keys, user, host and database stay readable.

    :param url: a URL string (parsable or not) or a SQLAlchemy ``URL``.
    """
    if url is None:
        return "<no url>"
    if isinstance(url, str) and looks_like_token(url):
        return "<a token-shaped value, not shown>"
    try:
        parsed = url if isinstance(url, URL) else sa.engine.make_url(url)
    except Exception:  # unparsable: mask by pattern, never echo it raw
        text = _USERINFO_PASSWORD.sub(rf"\g<head>{MASK}\g<tail>", str(url))
        return _SECRET_PARAM.sub(rf"\g<head>{MASK}", text)
    shown = parsed.set(query={}).render_as_string(hide_password=True)
    params = [
        f"{quote(key, safe='')}={MASK if _SECRET_KEY.search(key) else quote(value, safe='/:,')}"
        for key, values in parsed.query.items()
        for value in (values if isinstance(values, tuple) else (values,))
    ]
    return f"{shown}?{'&'.join(params)}" if params else shown


def masked_url(url: URL) -> URL:
    """``url`` with its password and secret query values replaced by ``***``: safe to print on any SQLAlchemy."""
    try:
        return sa.engine.make_url(display_url(url))
    except Exception:  # display_url's pattern fallback did not parse back: drop the credentials instead
        return url.set(password=None, query={})


def public_url(url: Union[str, URL, None]) -> str:
    """The store as shown to anonymous viewers (the web view): backend and database, no user, host or options.

    ``postgresql+psycopg://…/tracking`` for PostgreSQL; a SQLite store shows its file path.
    """
    if url is None:
        return "<no url>"
    try:
        parsed = url if isinstance(url, URL) else sa.engine.make_url(url)
    except Exception:
        return "<unparsable url>"
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(username=None, password=None, host=None, port=None, query={}).render_as_string()
    return f"{parsed.drivername}://…/{parsed.database or ''}"


def parse_tracking_url(url: str) -> URL:
    """Parse and normalise a store URL: PostgreSQL goes through psycopg 3, ``~`` in SQLite paths is expanded.

    :param url: a SQLAlchemy URL for SQLite or PostgreSQL.
    :raises TrackingStoreUnavailable: the URL cannot be parsed or names a database we do not support.
    """
    if looks_like_token(url):
        raise TrackingStoreUnavailable(
            f"the tracking store URL is not a SQLAlchemy URL: {TOKEN_HINT}; give {URL_EXAMPLES} "
            f"in {ENV_TRACKING_URL} or the tracking_url setting"
        )
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
    f"$AIRFLOW_HOME/{AIRFLOW_DIR_NAME}/{DB_FILE_NAME} when AIRFLOW_HOME is set, "
    f"else ~/{DEFAULT_DIR_NAME}/{DB_FILE_NAME}"
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


def choose_tracking_url(
    explicit: Optional[str] = None, explicit_origin: str = "the tracking_url setting"
) -> TrackingUrlChoice:
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
        reason = (
            f"default under $AIRFLOW_HOME={airflow_home}: neither ${ENV_TRACKING_URL} "
            f"nor ${ENV_AIRFLOW_TRACKING_URL} is set"
        )
    else:
        directory = Path("~").expanduser() / DEFAULT_DIR_NAME
        reason = (
            f"default ~/{DEFAULT_DIR_NAME}: none of ${ENV_TRACKING_URL}, ${ENV_AIRFLOW_TRACKING_URL} "
            "or $AIRFLOW_HOME is set"
        )
    return TrackingUrlChoice(f"sqlite:///{directory / DB_FILE_NAME}", reason, directory)
