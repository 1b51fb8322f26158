"""Monitor test fixtures: small real artifacts, made once per test module."""

from __future__ import annotations

import pytest
from monitor_helpers import small_artifacts


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory):
    """A copy of the fixture run's artifacts kept small, so a monitor tracks many runs quickly."""
    return small_artifacts(tmp_path_factory.mktemp("artifacts") / "small")
