"""A minimal stand-in for Airflow's ``tests_common`` (apache-airflow-devel-common), for the upstream check.

The dbt Cloud provider's unit tests import a few helpers from Airflow's repository-only test package.
The PyPI release of apache-airflow-devel-common (0.1.1, May 2025) predates Airflow 3.3 and lacks
fixtures those tests use (``create_connection_without_db``), so this shim provides exactly what
``scripts/upstream_provider_tests.py`` needs, with the same behaviour, and nothing else.
"""
