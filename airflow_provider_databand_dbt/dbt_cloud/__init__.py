"""HTTP client for the dbt Cloud Administrative API (requests). No Airflow import."""
