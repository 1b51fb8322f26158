"""The one read layer over the tracking store, used by the CLI, the web pages and the JSON API.

Modules by subject: ``pipelines``, ``runs``, ``nodes`` (every query on node results lives there),
``history`` (a node across runs), ``lineage``, ``report`` (a run's report, whole or paged). Each returns
the msgspec structs of ``models`` (or ``tracking.rows`` for the Python API). Callers hold a
:data:`Connection` from the store and never build SQL themselves: ``www/`` does not import SQLAlchemy.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

__all__ = ["Connection"]
