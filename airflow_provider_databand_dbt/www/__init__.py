"""The read-only web view of the tracking store: ``databand-dbt ui`` and the Airflow 3 plugin.

``create_app`` (in :mod:`airflow_provider_databand_dbt.www.app`) builds the FastAPI app; pages are
rendered on the server (Jinja2, inline SVG charts) and a JSON API lives under ``/api``.
"""
