"""``tests_common.test_utils.version_compat``: the Airflow version flags the provider's tests branch on."""

from __future__ import annotations

from importlib.metadata import version

from packaging.version import Version

_AIRFLOW = Version(Version(version("apache-airflow")).base_version)

AIRFLOW_V_3_0_PLUS = _AIRFLOW >= Version("3.0.0")
AIRFLOW_V_3_1_PLUS = _AIRFLOW >= Version("3.1.0")
