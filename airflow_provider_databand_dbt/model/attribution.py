"""Which Airflow task triggered a dbt Cloud run, read back from the run's ``cause``.

dbt Cloud keeps one free-text ``cause`` per run, and it is all a monitor or a webhook sees of who
triggered it. Three writers put an Airflow task into it, and ``attribution_from_cause`` reads all three:

- ``DbtCloudRunAndTrackOperator``: a ``[airflow dag=..&task=..&run=..&map=..&try=..]`` marker (values
  percent-encoded) in a text cause, or an ``"airflow"`` object in a JSON cause;
- the provider's ``DbtCloudRunJobOperator`` (>= 4.10) with OpenLineage: ``{"parent": {"job": {"name":
  "<dag_id>.<task_id>"}, ...}, "root": {"job": {"name": "<dag_id>"}}}``;
- the provider's default text: ``Triggered via Apache Airflow by task 'x' in the y DAG.``

Parsed at read time from the stored ``trigger_cause``, so runs stored before this existed get it too.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal, Optional
from urllib.parse import parse_qs, quote

import msgspec

AttributionOrigin = Literal["databand-dbt", "openlineage", "provider"]

MARKER_KEY = "airflow"
# Airflow caps ids at 250 characters; longer values are not ids, whatever the cause says.
_MAX_ID_CHARS = 250
_MAX_CAUSE_CHARS = 100_000
_MARKER = re.compile(r"\[airflow ([A-Za-z0-9%&=._~+-]*)\]")
_PROVIDER_TEXT = re.compile(
    r"Triggered via Apache Airflow by task (['\"])(?P<task>[^'\"]+)\1 in the (?P<dag>\S+) DAG\."
)
_MARKER_FIELDS = (
    ("dag", "dag_id"),
    ("task", "task_id"),
    ("run", "airflow_run_id"),
    ("map", "map_index"),
    ("try", "try_number"),
)


class Attribution(msgspec.Struct, kw_only=True, frozen=True):
    """The Airflow task instance that triggered a run, as far as its cause tells.

    :param origin: which writer's format it was read from (``databand-dbt``, ``openlineage``, ``provider``).
    :param airflow_run_id: the DAG run's id; only our operator's cause carries it.
    :param map_index: the mapped task's index; None when not mapped or not known.
    """

    dag_id: str
    task_id: str
    airflow_run_id: Optional[str] = None
    map_index: Optional[int] = None
    try_number: Optional[int] = None
    origin: AttributionOrigin = "databand-dbt"

    def describe(self) -> str:
        """``Airflow DAG x, task y, run z`` for the CLI and the pages."""
        text = f"Airflow DAG {self.dag_id}, task {self.task_id}"
        if self.map_index is not None:
            text += f" [{self.map_index}]"
        if self.airflow_run_id:
            text += f", run {self.airflow_run_id}"
        if self.try_number is not None:
            text += f", try {self.try_number}"
        return text


def attribution_from_cause(cause: Any) -> Optional[Attribution]:
    """The Airflow task named in a run's cause, or None; never raises, whatever the cause holds."""
    if not isinstance(cause, str) or not cause or len(cause) > _MAX_CAUSE_CHARS:
        return None
    try:
        if cause.lstrip().startswith("{"):
            return _from_json(cause)
        return _from_text(cause)
    except Exception:  # noqa: BLE001 - a cause is anyone's text: junk means "not attributed"
        return None


def marker(attribution: Attribution, *, fields: int = len(_MARKER_FIELDS)) -> str:
    """Our text marker with the first ``fields`` fields (dag, task, run, map, try); None values left out."""
    values = _field_values(attribution, fields)
    return "[airflow " + "&".join(f"{key}={quote(str(value), safe='')}" for key, value in values.items()) + "]"


def marker_object(attribution: Attribution, *, fields: int = len(_MARKER_FIELDS), ids: bool = True) -> dict[str, Any]:
    """The ``"airflow"`` object our operator adds to a JSON cause, with the first ``fields`` fields.

    :param ids: False leaves dag and task out (the OpenLineage parent block beside it names them).
    """
    values = _field_values(attribution, fields)
    return values if ids else {key: value for key, value in values.items() if key not in ("dag", "task")}


def _field_values(attribution: Attribution, fields: int) -> dict[str, Any]:
    values = {key: getattr(attribution, name) for key, name in _MARKER_FIELDS[:fields]}
    return {key: value for key, value in values.items() if value is not None}


def _from_text(cause: str) -> Optional[Attribution]:
    found = _MARKER.search(cause)
    if found is not None:
        pairs = parse_qs(found.group(1), keep_blank_values=True, strict_parsing=False)
        attribution = _build({key: values[0] for key, values in pairs.items()}, "databand-dbt")
        if attribution is not None:
            return attribution
    found = _PROVIDER_TEXT.search(cause)
    if found is None:
        return None
    return _build({"dag": found.group("dag"), "task": found.group("task")}, "provider")


def _from_json(cause: str) -> Optional[Attribution]:
    data = json.loads(cause)
    if not isinstance(data, dict):
        return None
    lineage = _from_openlineage(data)
    ours = data.get(MARKER_KEY)
    if isinstance(ours, dict):
        if lineage is not None:
            ours = {"dag": lineage.dag_id, "task": lineage.task_id, **ours}
        attribution = _build(ours, "databand-dbt")
        if attribution is not None:
            return attribution
    return lineage


def _from_openlineage(data: dict[str, Any]) -> Optional[Attribution]:
    """``parent.job.name`` is ``<dag_id>.<task_id>``; ``root.job.name`` (the DAG) tells where to split it."""
    parent = _job_name(data.get("parent"))
    if parent is None:
        return None
    root = _job_name(data.get("root"))
    if root and parent.startswith(root + ".") and len(parent) > len(root) + 1:
        dag_id, task_id = root, parent[len(root) + 1 :]
    elif "." in parent:
        # No root block (the provider drops it when the cause is too long): DAG ids rarely hold a dot,
        # task ids in task groups often do.
        dag_id, _, task_id = parent.partition(".")
    else:
        return None
    return _build({"dag": dag_id, "task": task_id}, "openlineage")


def _job_name(block: Any) -> Optional[str]:
    if not isinstance(block, dict):
        return None
    job = block.get("job")
    name = job.get("name") if isinstance(job, dict) else None
    return name if isinstance(name, str) and name else None


def _build(values: dict[str, Any], origin: AttributionOrigin) -> Optional[Attribution]:
    dag_id, task_id = _ident(values.get("dag")), _ident(values.get("task"))
    if dag_id is None or task_id is None:
        return None
    map_index = _whole(values.get("map"), minimum=0)
    return Attribution(
        dag_id=dag_id,
        task_id=task_id,
        airflow_run_id=_ident(values.get("run")),
        map_index=map_index,
        try_number=_whole(values.get("try"), minimum=1),
        origin=origin,
    )


def _ident(value: Any) -> Optional[str]:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > _MAX_ID_CHARS or any(ord(char) < 32 or ord(char) == 127 for char in text):
        return None
    return text


def _whole(value: Any, *, minimum: int) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 10:
        value = int(value)
    if isinstance(value, int) and minimum <= value < 2**31:
        return value
    return None
