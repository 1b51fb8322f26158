"""The dbt monitor daemon: polls dbt Cloud accounts and tracks every run. No Airflow import."""
