"""Which earlier run a dbt Cloud run retries ("Rerun from failure", POST runs/{id}/retry/, jobs/{id}/rerun/).

The v2 OpenAPI spec (dbt-labs/dbt-cloud-openapi-spec, openapi-v2.yaml) gives a run ``retrying_run_id``
(integer, no description), ``can_retry`` and ``retry_not_supported_reason``, and its trigger a
``cause_category`` whose values include ``rerun``. It does not say which way ``retrying_run_id`` points,
the retry endpoint documents no response body, and no ``include_related`` value names retries.

We read ``retrying_run_id`` like its sibling ``deferring_run_id``: the run this run is retrying. A run
can only retry an earlier one, and dbt Cloud's run ids grow with time, so a value that is not smaller
than the run's own id is ignored rather than guessed at. Without it, a trigger marked ``rerun`` whose
cause names a run ("... run 123", "... run #123") is linked to that run; anything else is not a retry.
"""

from __future__ import annotations

import re
from typing import Optional

_CAUSE_RUN = re.compile(r"\b(?:retr(?:y|ied|ying)|re-?run)\b.*?\brun\s*#?\s*(\d{1,19})\b", re.IGNORECASE)
RERUN_CATEGORY = "rerun"


def retry_of(run) -> Optional[int]:
    """The id of the run ``run`` (an ``ApiRun``) retries, or None when nothing says it is a retry."""
    earlier = run.retrying_run_id
    if earlier is not None:
        return earlier if 0 < earlier < run.id else None
    trigger = run.trigger
    if trigger is None or trigger.cause_category != RERUN_CATEGORY or not trigger.cause:
        return None
    match = _CAUSE_RUN.search(trigger.cause)
    named = int(match.group(1)) if match else None
    return named if named is not None and 0 < named < run.id else None
