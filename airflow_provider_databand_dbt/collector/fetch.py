"""Download one artifact of one step, decode it, delete the file: problems become an ArtifactMissing.

An artifact that is missing, truncated, corrupt or unreachable must never cost the rest of the
report, so every failure here is turned into a reason the user can read on the step.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Generic, Optional, TypeVar

import msgspec

from airflow_provider_databand_dbt.collector.client import CollectorClient
from airflow_provider_databand_dbt.dbt_cloud.errors import ArtifactError, DbtCloudError, DbtCloudNotFoundError
from airflow_provider_databand_dbt.model.report import ArtifactMissing

log = logging.getLogger(__name__)

T = TypeVar("T")


class Fetched(msgspec.Struct, Generic[T]):
    """The decoded artifact, or why there is none."""

    value: Optional[T] = None
    missing: Optional[ArtifactMissing] = None


class ArtifactFetcher:
    """Fetches artifacts of one run into a scratch directory the caller owns and removes.

    :param client: a ``DbtCloudClient`` (any ``CollectorClient``).
    :param account_id: dbt Cloud account id.
    :param run_id: dbt Cloud run id.
    :param directory: where downloads land; each file is deleted as soon as it is decoded.
    """

    def __init__(self, client: CollectorClient, account_id: int, run_id: int, directory: Path) -> None:
        self.client = client
        self.account_id = account_id
        self.run_id = run_id
        self.directory = directory

    def fetch(self, artifact: str, step: int, decode: Callable[[Path], T]) -> Fetched[T]:
        """Download ``artifact`` of ``step`` and decode it with ``decode``; never raises for artifact problems."""
        try:
            path = self.client.download_artifact(
                self.account_id, self.run_id, artifact, step=step, directory=self.directory
            )
        except DbtCloudNotFoundError:
            return self._missing(artifact, step, "not found (404): dbt Cloud has no such artifact for this step")
        except DbtCloudError as exc:
            return self._missing(artifact, step, str(exc))
        except OSError as exc:
            return self._missing(artifact, step, f"could not be saved to a temporary file ({exc.strerror or exc})")
        try:
            return Fetched(value=decode(path))
        except ArtifactError as exc:
            return self._missing(artifact, step, str(exc))
        finally:
            _remove(path)

    def _missing(self, artifact: str, step: int, reason: str) -> Fetched:
        log.warning("run %s step %s: %s unusable: %s", self.run_id, step, artifact, reason)
        return Fetched(missing=ArtifactMissing(artifact=artifact, reason=reason))


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:  # the scratch directory is removed afterwards anyway
        log.debug("could not delete %s: %s", path, exc)
