"""The tracking store (SQLAlchemy: SQLite by default, PostgreSQL in production). No Airflow import."""
