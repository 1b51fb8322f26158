"""Skip a test whose service (PostgreSQL, a browser) is missing, except under CI where that is an error.

CI runs ``CI=true bash .ci/run`` and starts every service itself: a missing one there means a broken
setup, and skipping would turn it green. A developer without the service still gets skips.
"""

from __future__ import annotations

import os

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing_service(what: str, how: str) -> None:
    """Skip (or fail under CI) the current test: ``what`` is missing, ``how`` says how to provide it."""
    message = f"{what} not available ({how})"
    if under_ci():
        pytest.fail(f"{message}: CI requires it", pytrace=False)
    pytest.skip(message)


def needs_extra(extra: str) -> pytest.MarkDecorator:
    """Skip a test whose optional extra (``ui``, ``monitor``, ``postgres``) is not installed.

    Only the core venv of scripts/test.sh lacks them (tests/packaging checks the one-line error there);
    under CI any other venv missing one is a broken setup, so the test runs and fails instead.
    """
    from airflow_provider_databand_dbt.extras import missing_module

    missing = missing_module(extra)
    core_venv = os.environ.get("DATABAND_DBT_CORE_VENV") == "1"
    return pytest.mark.skipif(
        missing is not None and (core_venv or not under_ci()),
        reason=f"needs the [{extra}] extra ({missing} is not installed)",
    )
