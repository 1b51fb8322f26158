"""The dbt monitor daemon: polls dbt Cloud accounts and tracks every run. No Airflow import.

``config`` (+ ``config_sources``, ``values``) reads and validates ``[dbt_monitor]``; ``daemon`` runs one
thread per syncer with caps and signals; ``syncer`` is one polling iteration (``listing`` finds runs,
``state`` keeps the cursor, active runs and lease, ``prefetch`` overlaps collection); ``metrics``,
``health`` and ``http`` serve ``/metrics`` and ``/health``; ``logfmt`` writes text or JSON lines.
"""
