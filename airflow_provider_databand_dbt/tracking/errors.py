"""One exception tree for the tracking store. Messages never contain passwords or tokens."""

from __future__ import annotations

from airflow_provider_databand_dbt.extras import MissingExtraError


class TrackingError(Exception):
    """Base class: the tracking store could not do what was asked."""


class TrackingStoreUnavailable(TrackingError):
    """The store URL is invalid, the database cannot be reached or opened, or it is read-only."""


class TrackingDriverMissing(TrackingStoreUnavailable, MissingExtraError):
    """A PostgreSQL store URL whose driver is not installed; the message names the extra (``[postgres]``)."""

    def __init__(self, feature: str, extra: str, module: str, *, alternative: str = "") -> None:
        MissingExtraError.__init__(self, feature, extra, module, alternative=alternative)


class TrackingSchemaError(TrackingError):
    """The database schema is newer than this package, or a migration failed."""


class RunNotTracked(TrackingError):
    """No tracked run has this id: collect it first (``databand-dbt collect``) or check the store URL."""


class RunNotStorable(TrackingError):
    """A run holds a value the store cannot keep even after clamping; the message names the run and why.

    Other runs are unaffected: a tracker records this run as failed and moves on.
    """


class TrackingStoreMissing(TrackingStoreUnavailable):
    """A store opened for reading does not exist (no file, or no tables): readers never create one."""


class TrackingSchemaOutdated(TrackingSchemaError):
    """A store opened for reading has an older schema: it must be opened once with write access to upgrade."""
