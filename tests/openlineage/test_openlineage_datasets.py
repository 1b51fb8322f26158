"""Dataset namespaces and names after the OpenLineage naming spec, as far as dbt artifacts tell."""

from __future__ import annotations

import pytest

from airflow_provider_databand_dbt.openlineage.datasets import dataset_name, dataset_namespace


@pytest.mark.parametrize(
    ("adapter", "database", "override", "expected"),
    [
        ("bigquery", "my-project", None, "bigquery"),
        ("snowflake", "ANALYTICS", None, "snowflake://ANALYTICS"),
        ("postgres", "warehouse", None, "postgres://warehouse"),
        ("duckdb", "tiny_shop", None, "duckdb://tiny_shop"),
        ("sqlserver", "dw", None, "mssql://dw"),
        ("athena", "awsdatacatalog", None, "awsathena://awsdatacatalog"),
        ("snowflake", "ANALYTICS", "snowflake://myorg-myaccount", "snowflake://myorg-myaccount"),
        ("spark", None, None, "spark://"),
    ],
)
def test_dataset_namespace(adapter, database, override, expected):
    assert dataset_namespace(adapter, database, override) == expected


def test_dataset_name_is_database_schema_alias():
    assert dataset_name("tiny_shop", "main", "fct_orders") == "tiny_shop.main.fct_orders"
    assert dataset_name(None, "main", "fct_orders") == "main.fct_orders"
    assert dataset_name("db", "main", None) is None
