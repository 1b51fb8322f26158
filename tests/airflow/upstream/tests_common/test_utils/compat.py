"""``tests_common.test_utils.compat``: only ``timezone``, which the provider's hook tests import."""

from __future__ import annotations

from airflow.providers.common.compat.sdk import timezone

__all__ = ["timezone"]
