"""Validate emitted OpenLineage events against the official JSON schemas vendored under ``schema/`` (offline).

The core schema checks the event's structure; each facet we emit is also checked against its own facet
schema. Formats (uuid, date-time) are checked by parsing, since jsonschema only checks what its optional
format packages support. jsonschema is imported when first used: the core venv (no extra, no jsonschema)
still collects the modules that import this one, and skips them.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
# Every versioned URL by which the facet schemas refer to the core spec.
CORE_URLS = tuple(f"https://openlineage.io/spec/{v}/OpenLineage.json" for v in ("1-0-1", "1-0-2", "1-0-3", "2-0-2"))
# Where each facet sits in an event -> its schema file.
FACETS = {
    ("run", "parent"): "ParentRunFacet",
    ("run", "errorMessage"): "ErrorMessageRunFacet",
    ("run", "processing_engine"): "ProcessingEngineRunFacet",
    ("job", "jobType"): "JobTypeJobFacet",
    ("job", "sql"): "SQLJobFacet",
    ("inputFacets", "dataQualityAssertions"): "DataQualityAssertionsDatasetFacet",
    ("outputFacets", "outputStatistics"): "OutputStatisticsOutputDatasetFacet",
}


@cache
def _core() -> dict:
    return json.loads((SCHEMA_DIR / "OpenLineage.json").read_text())


@cache
def _registry() -> Any:
    from referencing import Registry, Resource

    core = Resource.from_contents(_core())
    return Registry().with_resources([(url, core) for url in CORE_URLS])


@cache
def _facet_validator(name: str) -> Any:
    from jsonschema import Draft202012Validator

    document = json.loads((SCHEMA_DIR / "facets" / f"{name}.json").read_text())
    schema = {"$id": document["$id"], "$defs": document["$defs"], "$ref": f"#/$defs/{name}"}
    return Draft202012Validator(schema, registry=_registry())


def validate_event(event: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` (or AssertionError for formats) unless ``event`` is a valid RunEvent."""
    from jsonschema import Draft202012Validator

    Draft202012Validator(_core(), registry=_registry()).validate(event)
    assert event["schemaURL"].endswith("#/$defs/RunEvent")
    uuid.UUID(event["run"]["runId"])
    datetime.fromisoformat(event["eventTime"])
    for where, key, facet in _facets(event):
        name = FACETS.get((where, key))
        if name is not None:
            _facet_validator(name).validate(facet)
        if key == "parent":
            uuid.UUID(facet["run"]["runId"])


def _facets(event: dict[str, Any]):
    for key, facet in (event["run"].get("facets") or {}).items():
        yield "run", key, facet
    for key, facet in (event["job"].get("facets") or {}).items():
        yield "job", key, facet
    for dataset in event.get("inputs") or []:
        for key, facet in (dataset.get("inputFacets") or {}).items():
            yield "inputFacets", key, facet
    for dataset in event.get("outputs") or []:
        for key, facet in (dataset.get("outputFacets") or {}).items():
            yield "outputFacets", key, facet
