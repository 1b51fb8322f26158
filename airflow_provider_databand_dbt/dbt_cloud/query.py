"""Query parameters for list endpoints: page sizes, optional ids, status filters, when to stop paging."""

from __future__ import annotations

import json
from typing import Any, Optional

from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudConfigError
from airflow_provider_databand_dbt.dbt_cloud.urls import json_list_param, validate_id
from airflow_provider_databand_dbt.model.status import RunStatus

MAX_PAGE_SIZE = 100


def query_params(**values: Any) -> dict[str, Any]:
    """The given parameters without the ones left unset (None)."""
    return {key: value for key, value in values.items() if value is not None}


def optional_id(value: Any, name: str) -> Optional[int]:
    return None if value is None else validate_id(value, name)


def page_size_param(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE_SIZE:
        raise DbtCloudConfigError(
            f"{name} must be an integer from 1 to {MAX_PAGE_SIZE} (dbt Cloud's page limit), got {value!r}"
        )
    return value


def offset_param(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DbtCloudConfigError(f"offset must be an integer >= 0, got {value!r}")
    return value


def status_code(status: Any) -> int:
    """A run status as dbt Cloud's number, from the number, a digit string, a label or a RunStatus."""
    if isinstance(status, str) and not status.strip().isdigit():
        try:
            return int(RunStatus.from_label(status.strip()))
        except KeyError:
            labels = ", ".join(s.label for s in RunStatus)
            raise DbtCloudConfigError(
                f"status must be a dbt Cloud run status ({labels}) or its number, got {status!r}"
            ) from None
    number = validate_id(status, "status")
    try:
        return int(RunStatus(number))
    except ValueError:
        raise DbtCloudConfigError(f"status {number} is not a dbt Cloud run status (1, 2, 3, 10, 20, 30)") from None


def status_params(status: Any) -> dict[str, Any]:
    """``status=N`` for one status, ``status__in=[N,M]`` (a JSON list, as dbt Cloud expects) for several."""
    if status is None:
        return {}
    if isinstance(status, (str, int)):
        return {"status": status_code(status)}
    codes = sorted({status_code(item) for item in status})
    if not codes:
        raise DbtCloudConfigError("status must name at least one run status when given as a list")
    return {"status__in": json.dumps(codes, separators=(",", ":"))}


def ids_param(ids: Any) -> str | None:
    """``pk__in`` as a JSON list of ids (the format dbt Cloud takes for its ``__in`` filters), or None."""
    if ids is None:
        return None
    values = sorted({validate_id(value, "run id") for value in ids})
    if not values:
        raise DbtCloudConfigError("run_ids must name at least one run when given")
    return json.dumps(values, separators=(",", ":"))


def last_page(fresh: int, offset: int, page_size: int, received: int, total_count: int | None) -> bool:
    """Whether paging should stop: trusts ``total_count`` when given, never loops on empty/repeated pages.

    :param fresh: items on this page not seen before.
    :param offset: items consumed so far, this page included.
    :param received: items on this page.
    """
    if fresh == 0:
        return True
    if total_count is not None:
        return offset >= total_count
    return received < page_size


def runs_query(
    *,
    limit: int = MAX_PAGE_SIZE,
    offset: int = 0,
    order_by: str = "-id",
    job_id: Any = None,
    project_id: Any = None,
    environment_id: Any = None,
    status: Any = None,
    include_related: Any = (),
    id_gt: Optional[int] = None,
    run_ids: Any = None,
) -> dict[str, Any]:
    """The query of one page of the runs list, from the keywords of ``DbtCloudClient.list_runs``."""
    return query_params(
        limit=page_size_param(limit, "limit"),
        offset=offset_param(offset),
        order_by=order_by,
        job_definition_id=optional_id(job_id, "job_id"),
        project_id=optional_id(project_id, "project_id"),
        environment_id=optional_id(environment_id, "environment_id"),
        **status_params(status),
        include_related=json_list_param(include_related),
        id__gt=None if id_gt is None else offset_param(id_gt),
        pk__in=ids_param(run_ids),
    )
