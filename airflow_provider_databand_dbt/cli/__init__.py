"""The ``databand-dbt`` command line."""
