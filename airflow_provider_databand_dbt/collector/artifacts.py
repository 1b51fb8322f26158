"""Typed, memory-bounded decoding of the dbt artifacts we use: manifest.json, run_results.json, sources.json.

The structs declare only the fields the collector reads; msgspec skips everything else without
building Python objects for it, so manifests of hundreds of MB decode into a small index, and
artifacts written by other dbt versions (manifest v10-v12, dbt Fusion) decode as long as the few
fields we read keep their meaning. Files are decoded straight from a read-only memory map.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from datetime import datetime, timezone
from pathlib import Path
from sys import intern
from typing import Any, Optional, TypeVar, Union

import msgspec

from airflow_provider_databand_dbt.dbt_cloud.errors import ArtifactError

MANIFEST = "manifest.json"
RUN_RESULTS = "run_results.json"
SOURCES = "sources.json"


# gc=False: these objects never form reference cycles, and skipping GC tracking makes decoding
# hundreds of thousands of them much cheaper.
class _Metadata(msgspec.Struct, gc=False):
    dbt_version: Optional[str] = None
    dbt_schema_version: Optional[str] = None
    adapter_type: Optional[str] = None  # manifest only: duckdb, snowflake, postgres...


class _DependsOn(msgspec.Struct, gc=False):
    nodes: list[str] = []


class _Checksum(msgspec.Struct, gc=False):
    checksum: Optional[str] = None


class _NodeConfig(msgspec.Struct, gc=False):
    materialized: Optional[str] = None
    tags: Union[list[str], str, None] = None


def _shared(text: Optional[str]) -> Optional[str]:
    return intern(text) if text is not None else None


# Shared lists: read-only, like every list a NodeResult takes from the manifest (see collector/nodes.py).
_NO_PARENTS: list[str] = []
_TAG_LISTS: dict[tuple[str, ...], list[str]] = {}
_TAG_LISTS_MAX = 10_000  # distinct tag sets shared; beyond that (never seen in practice) a node has its own


def _shared_tags(tags: list[str]) -> list[str]:
    key = tuple(tags)
    shared = _TAG_LISTS.get(key)
    if shared is None:
        shared = [intern(tag) for tag in key]
        if len(_TAG_LISTS) < _TAG_LISTS_MAX:
            _TAG_LISTS[key] = shared
    return shared


class ManifestNode(msgspec.Struct, gc=False, kw_only=True):
    """What the collector needs to know about one manifest node, source or unit test.

    ``compiled_code`` is hashed while decoding and then dropped, so the (often large) SQL text of
    every node never stays in memory; ``code_hash`` holds the sha256 of the compiled code, or
    dbt's own checksum of the file when the node was not compiled.
    """

    name: Optional[str] = None
    resource_type: Optional[str] = None
    package_name: Optional[str] = None
    depends_on: Optional[_DependsOn] = None
    config: Optional[_NodeConfig] = None
    tags: Union[list[str], str, None] = None
    # unit tests carry a plain string checksum, other nodes an object {name, checksum}
    checksum: Union[_Checksum, str, None] = None
    compiled_code: Optional[str] = None
    code_hash: Optional[str] = None
    database: Optional[str] = None
    schema: Optional[str] = None
    alias: Optional[str] = None
    identifier: Optional[str] = None  # a source's table name (sources have no alias)

    def __post_init__(self) -> None:
        if self.compiled_code:
            self.code_hash = hashlib.sha256(self.compiled_code.encode("utf-8", "surrogatepass")).hexdigest()
        elif isinstance(self.checksum, _Checksum):
            self.code_hash = self.checksum.checksum
        elif isinstance(self.checksum, str):
            self.code_hash = self.checksum or None
        else:
            self.code_hash = None
        self.compiled_code = None
        self.checksum = None
        # The same few packages, types, schemas, tags and parents repeat across 100,000s of nodes: keep one
        # copy of each (a sixth of a large manifest's decoded size, and of the peak memory of a collection).
        self.resource_type = _shared(self.resource_type)
        self.package_name = _shared(self.package_name)
        self.database = _shared(self.database)
        self.schema = _shared(self.schema)
        # One list per distinct set of tags, shared by every node that has it: fewer objects for the garbage
        # collector to walk on each of its passes (a third of a large collection's time went to those passes).
        self.tags = _shared_tags(self.tag_list)
        config = self.config
        if config is not None:
            config.materialized = _shared(config.materialized)
            config.tags = None  # folded into self.tags above
        if self.depends_on is not None:
            parents = self.depends_on.nodes
            self.depends_on.nodes = [intern(parent) for parent in parents] if parents else _NO_PARENTS

    @property
    def parents(self) -> list[str]:
        return list(self.depends_on.nodes) if self.depends_on else []

    @property
    def materialization(self) -> Optional[str]:
        return self.config.materialized if self.config else None

    @property
    def tag_list(self) -> list[str]:
        # unit tests only carry tags in their config
        tags = self.tags if self.tags is not None else (self.config.tags if self.config else None)
        if isinstance(tags, str):
            return [tags]
        return tags if tags is not None else []


class Manifest(msgspec.Struct, gc=False):
    """The parts of manifest.json the collector joins with results: nodes, sources, unit tests, functions."""

    metadata: Optional[_Metadata] = None
    # None only while decoding: a manifest without ``nodes`` is refused by decode_artifact.
    nodes: Optional[dict[str, ManifestNode]] = None
    sources: dict[str, ManifestNode] = {}
    unit_tests: dict[str, ManifestNode] = {}
    functions: dict[str, ManifestNode] = {}  # user-defined functions, dbt 1.11+

    @property
    def dbt_version(self) -> Optional[str]:
        return self.metadata.dbt_version if self.metadata else None

    @property
    def adapter_type(self) -> Optional[str]:
        return self.metadata.adapter_type if self.metadata else None

    def lookup(self, unique_id: str) -> Optional[ManifestNode]:
        """The manifest entry for a node, source, unit test or function, or None when the manifest lacks it."""
        # unique ids are unique across the sections; most results are in ``nodes``
        return (
            (self.nodes or {}).get(unique_id)
            or self.sources.get(unique_id)
            or self.unit_tests.get(unique_id)
            or self.functions.get(unique_id)
        )


class _TestMetadata(msgspec.Struct, gc=False):
    name: Optional[str] = None


class LineageManifestNode(ManifestNode, gc=False, kw_only=True):
    """A manifest node with what lineage exporters also read: which test it is and what it checks."""

    attached_node: Optional[str] = None
    column_name: Optional[str] = None
    test_metadata: Optional[_TestMetadata] = None


class LineageManifest(Manifest, gc=False):
    """The manifest as decoded when a sink wants lineage (see ``model.lineage``)."""

    nodes: Optional[dict[str, LineageManifestNode]] = None  # type: ignore[assignment]


class Timing(msgspec.Struct, gc=False):
    name: Optional[str] = None
    # Kept as text and parsed leniently: one odd timestamp must not lose the whole file.
    started_at: Optional[str] = None
    completed_at: Optional[str] = None


class _AdapterResponse(msgspec.Struct, gc=False):
    rows_affected: Any = None


class RunResult(msgspec.Struct, gc=False, kw_only=True):
    """One entry of run_results.json ``results``."""

    unique_id: str
    status: str
    execution_time: Optional[float] = None
    adapter_response: Optional[_AdapterResponse] = None
    message: Optional[str] = None
    failures: Optional[int] = None
    thread_id: Optional[str] = None
    # A tuple: the garbage collector stops tracking it, which a list of 100,000s of results would not allow.
    timing: tuple[Timing, ...] = ()


class RunResults(msgspec.Struct, gc=False):
    metadata: Optional[_Metadata] = None
    # None when absent: ``{}``, an error envelope or a redirect's page is no run_results.json.
    results: Optional[list[RunResult]] = None


class LineageRunResult(RunResult, gc=False, kw_only=True):
    """A run_results entry with the SQL dbt ran, kept only when a sink wants lineage."""

    compiled_code: Optional[str] = None


class LineageRunResults(RunResults, gc=False):
    results: Optional[list[LineageRunResult]] = None  # type: ignore[assignment]


class FreshnessThreshold(msgspec.Struct, gc=False):
    count: Optional[int] = None
    period: Optional[str] = None


class FreshnessCriteria(msgspec.Struct, gc=False):
    warn_after: Optional[FreshnessThreshold] = None
    error_after: Optional[FreshnessThreshold] = None


class FreshnessResult(msgspec.Struct, gc=False, kw_only=True):
    """One entry of sources.json ``results`` (a source freshness check)."""

    unique_id: str
    status: str
    max_loaded_at: Optional[str] = None
    snapshotted_at: Optional[str] = None
    max_loaded_at_time_ago_in_s: Optional[float] = None
    criteria: Optional[FreshnessCriteria] = None
    execution_time: Optional[float] = None
    thread_id: Optional[str] = None
    timing: tuple[Timing, ...] = ()
    # runtime errors carry ``error`` (older dbt) or ``message``
    error: Optional[str] = None
    message: Optional[str] = None


class SourcesResults(msgspec.Struct, gc=False):
    metadata: Optional[_Metadata] = None
    results: Optional[list[FreshnessResult]] = None


T = TypeVar("T")

_DECODERS: dict[type, msgspec.json.Decoder] = {
    cls: msgspec.json.Decoder(cls) for cls in (Manifest, RunResults, SourcesResults, LineageManifest, LineageRunResults)
}
# The list every real artifact of each kind has, even when it is empty.
_REQUIRED: dict[type, str] = {
    Manifest: "nodes",
    RunResults: "results",
    SourcesResults: "results",
    LineageManifest: "nodes",
    LineageRunResults: "results",
}


def decode_artifact(path: Path, cls: type[T], artifact: str) -> T:
    """Decode an artifact file into ``cls``, raising :class:`ArtifactError` saying what is wrong with it.

    :param path: the downloaded file; it is memory-mapped, never read into one big bytes object.
    :param cls: :class:`Manifest`, :class:`RunResults` or :class:`SourcesResults` (or a ``Lineage*`` variant).
    :param artifact: the artifact name, for messages.
    """
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            raise ArtifactError(f"{artifact} is empty")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buffer:
            try:
                value = _DECODERS[cls].decode(buffer)
            except msgspec.ValidationError as exc:
                raise ArtifactError(f"{artifact} has an unexpected shape ({exc})") from None
            except msgspec.DecodeError as exc:
                raise ArtifactError(f"{artifact} is truncated or not valid JSON ({exc})") from None
    field = _REQUIRED.get(cls)
    if field and getattr(value, field) is None:
        raise ArtifactError(
            f"{artifact} has no `{field}` (an empty object, an error message or a page that is not the "
            "artifact), so it was not used"
        )
    return value


def decode_manifest(path: Path) -> Manifest:
    return decode_artifact(path, Manifest, MANIFEST)


def decode_run_results(path: Path) -> RunResults:
    return decode_artifact(path, RunResults, RUN_RESULTS)


def decode_lineage_manifest(path: Path) -> LineageManifest:
    return decode_artifact(path, LineageManifest, MANIFEST)


def decode_lineage_run_results(path: Path) -> LineageRunResults:
    return decode_artifact(path, LineageRunResults, RUN_RESULTS)


def decode_sources(path: Path) -> SourcesResults:
    return decode_artifact(path, SourcesResults, SOURCES)


def parse_timestamp(value: Optional[str]) -> Optional[datetime]:
    """An artifact timestamp as an aware datetime (dbt writes UTC); None when absent or unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)  # fast path; Python < 3.11 rejects a trailing "Z"
    except ValueError:
        try:
            parsed = msgspec.convert(value, datetime)
        except msgspec.ValidationError:
            try:
                parsed = datetime.fromisoformat(value.replace(" ", "T", 1))
            except ValueError:
                return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
