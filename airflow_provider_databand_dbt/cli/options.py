"""Arguments shared by several commands, and the one place tokens are read from."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from airflow_provider_databand_dbt.cli.errors import CliUsageError
from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudConfigError
from airflow_provider_databand_dbt.dbt_cloud.tokens import TOKEN_HINT, looks_like_token
from airflow_provider_databand_dbt.dbt_cloud.urls import describe_value, normalize_api_url, validate_id

TOKEN_ENV = "DBT_CLOUD_API_TOKEN"


def positive_id(text: str) -> int:
    """argparse type for dbt Cloud ids: a clear message instead of a traceback for ``abc`` or ``-1``."""
    return _positive(text, "id")


def positive_count(text: str) -> int:
    """argparse type for limits and sizes (``--limit``, ``--page-size``)."""
    return _positive(text, "number")


def time_bound(name: str):
    """argparse type for ``--since``/``--until``: a UTC day or an instant, as the web view takes them."""

    def parse(text: str):
        from airflow_provider_databand_dbt.tracking.read.filters import BadBound, parse_bound

        try:
            return parse_bound(text, f"--{name}")
        except BadBound as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


# Ids and counts are stored as 64-bit integers (SQLite INTEGER, PostgreSQL BIGINT): larger ones cannot exist.
MAX_ID = 2**63 - 1


def _positive(text: str, what: str) -> int:
    try:
        value = validate_id(text, what)
    except DbtCloudConfigError:
        raise argparse.ArgumentTypeError(f"expected a positive integer {what}, got {describe_value(text)}") from None
    if value > MAX_ID:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer {what} of at most {MAX_ID}, got {describe_value(text)}"
        )
    return value


def dbt_cloud_host(text: str) -> str:
    """argparse type for ``--host``: the host as the store keys runs, from any form the project prints.

    ``127.0.0.1:8787``, ``http://127.0.0.1:8787/``, ``cloud.getdbt.com`` and ``https://cloud.getdbt.com``
    all work: the value is normalised exactly as the client normalises its API URL, whose host:port
    the collector stores (a bare host means https, a default port is dropped).
    """
    try:
        return urlsplit(normalize_api_url(text)).netloc
    except DbtCloudConfigError:
        raise argparse.ArgumentTypeError(
            "expected a dbt Cloud host such as cloud.getdbt.com, emea.dbt.com or 127.0.0.1:8787, "
            f"got {describe_value(text)}"
        ) from None


def store_in_use() -> str:
    """``<url> (<why>)`` of the store a command run without --tracking-url would use, for --help texts."""
    from airflow_provider_databand_dbt.tracking.url import choose_tracking_url

    return choose_tracking_url(None).describe()


def store_precedence() -> str:
    from airflow_provider_databand_dbt.tracking.url import PRECEDENCE

    return PRECEDENCE


class Lazy:
    """A help-text value computed only when help is printed: working out the store imports SQLAlchemy (~0.3 s)."""

    def __init__(self, compute: Callable[[], str]) -> None:
        self._compute = compute

    def __str__(self) -> str:
        return self._compute()


def with_store_in_use(action: argparse.Action) -> argparse.Action:
    """Let ``action``'s help say ``%(store)s`` and ``%(precedence)s``, filled in when help is printed."""
    action.store = Lazy(store_in_use)  # type: ignore[attr-defined]  # argparse formats help with vars(action)
    action.precedence = Lazy(store_precedence)  # type: ignore[attr-defined]
    return action


def positive_seconds(text: str) -> float:
    """argparse type for deadlines: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {describe_value(text)}")
    return value


def add_tracking_url(parser: argparse.ArgumentParser) -> None:
    with_store_in_use(
        parser.add_argument(
            "--tracking-url",
            metavar="URL",
            help="SQLAlchemy URL of the tracking store. Precedence: %(precedence)s. Without this flag now: %(store)s",
        )
    )


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def add_token_file(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--token-file",
        metavar="PATH",
        type=Path,
        help=f"file holding the dbt Cloud API token (default: ${TOKEN_ENV}); never pass the token itself on argv",
    )


def read_token(args: argparse.Namespace) -> str:
    """The dbt Cloud token from ``--token-file`` or ``$DBT_CLOUD_API_TOKEN``; never from argv."""
    token_file: Path | None = getattr(args, "token_file", None)
    if token_file is not None:
        if looks_like_token(str(token_file)):
            raise CliUsageError(f"--token-file takes the path of a file holding the token, but {TOKEN_HINT}")
        try:
            token = token_file.read_text().strip()
        except OSError as exc:
            raise CliUsageError(f"cannot read --token-file {token_file}: {exc.strerror}") from None
        if not token:
            raise CliUsageError(f"--token-file {token_file} is empty")
        return token
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise CliUsageError(f"no dbt Cloud API token: set ${TOKEN_ENV} or pass --token-file PATH")
    return token


def store_choice(args: argparse.Namespace):
    """Which tracking store the command uses and the rule that picked it (creates nothing)."""
    from airflow_provider_databand_dbt.tracking.url import choose_tracking_url

    url = getattr(args, "tracking_url", None)
    if looks_like_token(url):
        raise CliUsageError(f"--tracking-url takes a SQLAlchemy URL of the tracking store, but {TOKEN_HINT}")
    return choose_tracking_url(url, explicit_origin="--tracking-url")


def open_store(args: argparse.Namespace):
    """The store for commands that write (collect, demo): created or upgraded when needed."""
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    url = getattr(args, "tracking_url", None)
    if looks_like_token(url):
        raise CliUsageError(f"--tracking-url takes a SQLAlchemy URL of the tracking store, but {TOKEN_HINT}")
    return TrackingStore(url)


def open_read_store(args: argparse.Namespace):
    """The store for commands that only read (runs, show): never created, readable without write access.

    An existing store with an older schema is upgraded when we may write to it, as any opening did before.
    """
    from airflow_provider_databand_dbt.tracking import errors
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    choice = store_choice(args)
    try:
        return TrackingStore(choice.url, read_only=True)
    except errors.TrackingSchemaOutdated:
        return TrackingStore(choice.url)
    except errors.TrackingStoreMissing as exc:
        raise errors.TrackingStoreMissing(f"{exc} (this store was chosen: {choice.reason})") from None
