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
