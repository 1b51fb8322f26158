"""The cause our operator sends: the provider's cause plus the task instance that triggered the run.

dbt Cloud keeps at most 255 characters of cause, and the trigger token (``trigger_token``) must always
fit: the task's fields are dropped from the end (try, map index, run id) before the token or a JSON
cause's OpenLineage block would be cut; the human text is shortened first.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from airflow_provider_databand_dbt.model.attribution import (
    MARKER_KEY,
    Attribution,
    attribution_from_cause,
    marker,
    marker_object,
)
from airflow_provider_databand_dbt.operators.trigger_token import CAUSE_MAX_CHARS, cause_with_token, new_token

DEFAULT_CAUSE = "Triggered via Apache Airflow"
# dag and task at least: without them the marker says nothing the provider's text does not.
_FIELD_COUNTS = (5, 4, 3, 2)


def task_attribution(context: Any) -> Optional[Attribution]:
    """The running task instance as an ``Attribution``; None when the context has no usable one."""
    ti = context.get("ti") if hasattr(context, "get") else None
    dag_id, task_id = getattr(ti, "dag_id", None), getattr(ti, "task_id", None)
    if not isinstance(dag_id, str) or not isinstance(task_id, str):
        return None
    run_id = getattr(ti, "run_id", None)
    map_index = getattr(ti, "map_index", None)
    try_number = getattr(ti, "try_number", None)
    return Attribution(
        dag_id=dag_id,
        task_id=task_id,
        airflow_run_id=run_id if isinstance(run_id, str) else None,
        map_index=map_index if isinstance(map_index, int) and map_index >= 0 else None,
        try_number=try_number if isinstance(try_number, int) and try_number >= 1 else None,
    )


def attributed_cause(cause: Optional[str], attribution: Optional[Attribution]) -> Optional[str]:
    """``cause`` naming ``attribution``, sized so that ``cause_with_token`` keeps all of it and the token.

    A JSON cause (the provider's OpenLineage parent information) gets an ``"airflow"`` key, a text cause
    a ``[airflow dag=..&task=..]`` marker; what cannot fit is left out, never the token or the JSON.
    """
    if attribution is None:
        return cause
    text = cause or DEFAULT_CAUSE
    data = _json_object(text)
    probe_token = new_token()
    if data is None:
        candidates = [_with_text_marker(text, attribution, fields) for fields in _FIELD_COUNTS]
    else:
        # The OpenLineage parent block names dag and task already: when the whole object does not fit,
        # the run id alone still may.
        candidates = [
            _with_json_marker(data, attribution, fields, ids)
            for ids in (True, False)
            for fields in _FIELD_COUNTS
            if ids or fields > 2
        ]
    for candidate in candidates:
        if candidate is not None and _survives(candidate, probe_token, data is not None, attribution):
            return candidate
    return cause


def _json_object(text: str) -> Optional[dict]:
    if not text.lstrip().startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _with_json_marker(data: dict, attribution: Attribution, fields: int, ids: bool) -> Optional[str]:
    tag = marker_object(attribution, fields=fields, ids=ids)
    if not tag:
        return None
    return json.dumps({**data, MARKER_KEY: tag}, separators=(",", ":"))


def _with_text_marker(text: str, attribution: Attribution, fields: int) -> Optional[str]:
    tag = marker(attribution, fields=fields)
    token_room = len(cause_with_token("-", new_token())) - 1
    room = CAUSE_MAX_CHARS - token_room - len(tag) - 1
    if room < 0:
        return None
    head = text[:room].rstrip()
    return f"{head} {tag}" if head else tag


def _survives(candidate: str, token: str, is_json: bool, attribution: Attribution) -> bool:
    """Whether the cause with a token still names the task right (and, for JSON, is still JSON)."""
    sent = cause_with_token(candidate, token)
    if token not in sent or len(sent) > CAUSE_MAX_CHARS:
        return False
    if is_json and _json_object(sent) is None:
        return False
    found = attribution_from_cause(sent)
    return found is not None and (found.dag_id, found.task_id) == (attribution.dag_id, attribution.task_id)
