"""Find the runs a syncer has to look at, with as few list requests as possible.

Runs are listed newest first (``order_by=-id``) and paging stops as soon as a page reaches the
cursor (or, for a backfill, runs older than the window). New runs are asked with ``id__gt=<cursor>``,
so dbt Cloud returns only them; the stop rule stays as the fallback for a host that ignores the
filter. Without filters that is one request per idle iteration; with job/project/environment
filters, one request per filter combination.

Pages are asked with ``include_related`` (steps, job, trigger): a listed run that came with its
steps is kept whole on its :class:`RunRef` and is collected without a GET of its own. Runs still in
progress are re-checked with one ``pk__in`` list call per page of ids (:meth:`RunLister.by_ids`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Optional

from airflow_provider_databand_dbt.model.status import RunStatus
from airflow_provider_databand_dbt.monitor.run_pages import RunPage, list_runs_page

# Safety net against an API that ignores order_by or offset: never page through more than this per stream.
MAX_PAGES_PER_STREAM = 10_000


@dataclass(frozen=True)
class RunRef:
    """What a list page tells us about a run: enough to decide whether to collect it.

    ``run`` is the whole run (an ``ApiRun`` with its steps) when the page carried it, else None.
    """

    id: int
    status: int
    created_at: Optional[datetime] = None
    job_id: Optional[int] = None
    run: Any = field(default=None, compare=False, repr=False)

    @property
    def is_terminal(self) -> bool:
        try:
            return RunStatus(self.status).is_terminal
        except ValueError:
            return False


@dataclass
class Listing:
    """Runs seen on the pages fetched this iteration.

    :param seen: every run on those pages, by id (for the live status of active runs).
    :param selected: the runs the stop rule did not exclude (newer than the cursor, or inside the window).
    :param newest_id: the highest run id seen, or None when the account has no (matching) run.
    :param requests: list requests sent.
    """

    seen: dict[int, RunRef] = field(default_factory=dict)
    selected: dict[int, RunRef] = field(default_factory=dict)
    newest_id: Optional[int] = None
    requests: int = 0

    def selected_ascending(self) -> list[RunRef]:
        """Oldest first, so the cursor can advance run by run and a crash never skips one."""
        return [self.selected[run_id] for run_id in sorted(self.selected)]


def filter_streams(
    job_ids: tuple[int, ...], project_ids: tuple[int, ...], environment_ids: tuple[int, ...]
) -> list[dict[str, int]]:
    """One dict of list filters per combination; ``[{}]`` (a single unfiltered stream) without filters."""
    combos = itertools.product(job_ids or (None,), project_ids or (None,), environment_ids or (None,))
    streams = []
    for job_id, project_id, environment_id in combos:
        stream = {"job_id": job_id, "project_id": project_id, "environment_id": environment_id}
        streams.append({key: value for key, value in stream.items() if value is not None})
    return streams


def _refs(page: RunPage) -> list[RunRef]:
    return [
        RunRef(
            id=run.id,
            status=run.status,
            created_at=run.created_at,
            job_id=run.job_definition_id,
            run=page.whole.get(run.id),
        )
        for run in page.runs
    ]


class RunLister:
    """Pages through ``list_runs`` of one account for each filter stream.

    :param client: a ``DbtCloudClient``.
    :param account_id: the account to list.
    :param streams: list filters, see :func:`filter_streams`.
    :param page_size: runs per request (dbt Cloud allows at most 100).
    :param include_related: related objects asked with every page (empty: ids and statuses only).
    """

    def __init__(
        self,
        client,
        account_id: int,
        streams: list[dict[str, int]],
        page_size: int,
        include_related: tuple[str, ...] = (),
    ) -> None:
        self.client = client
        self.account_id = account_id
        self.streams = streams
        self.page_size = page_size
        self.include_related = include_related

    def newer_than(self, last_run_id: int) -> Listing:
        """Runs with an id above ``last_run_id`` (``id__gt``); the stop rule guards a host that ignores it."""
        return self._list(lambda ref: ref.id > last_run_id, id_gt=last_run_id)

    def by_ids(self, run_ids: list[int]) -> dict[int, RunRef] | None:
        """The runs among ``run_ids`` that dbt Cloud still has, with one ``pk__in`` request per page of ids.

        Returns None when the host ignored the filter (a run that was not asked for came back): the
        caller then falls back to one GET per run. A run missing from the answer is simply absent.
        """
        found: dict[int, RunRef] = {}
        wanted = sorted(set(run_ids))
        for start in range(0, len(wanted), self.page_size):
            chunk = wanted[start : start + self.page_size]
            page = list_runs_page(
                self.client,
                self.account_id,
                limit=len(chunk),
                offset=0,
                order_by="id",
                run_ids=chunk,
                include_related=self.include_related,
            )
            refs = _refs(page)
            if any(ref.id not in chunk for ref in refs):
                return None
            found.update((ref.id, ref) for ref in refs)
        return found

    def created_since(self, cutoff: datetime) -> Listing:
        """Runs created at or after ``cutoff`` (runs without a creation time are included)."""
        return self._list(lambda ref: ref.created_at is None or ref.created_at >= cutoff)

    def first_pages(self, status: Optional[list[int]] = None) -> Listing:
        """Only the first page of each stream (optionally of some statuses): the newest runs."""
        return self._list(lambda ref: True, max_pages=1, status=status)

    def _list(
        self,
        keep: Callable[[RunRef], bool],
        *,
        max_pages: int = MAX_PAGES_PER_STREAM,
        status: Optional[list[int]] = None,
        id_gt: int | None = None,
    ) -> Listing:
        listing = Listing()
        for stream in self.streams:
            offset = 0
            for _ in range(max_pages):
                page = list_runs_page(
                    self.client,
                    self.account_id,
                    limit=self.page_size,
                    offset=offset,
                    order_by="-id",
                    status=status,
                    id_gt=id_gt,
                    include_related=self.include_related,
                    job_id=stream.get("job_id"),
                    project_id=stream.get("project_id"),
                    environment_id=stream.get("environment_id"),
                )
                listing.requests += 1
                reached_end = False
                for ref in _refs(page):
                    listing.seen[ref.id] = ref
                    if listing.newest_id is None or ref.id > listing.newest_id:
                        listing.newest_id = ref.id
                    if keep(ref):
                        listing.selected[ref.id] = ref
                    else:
                        reached_end = True
                offset += page.size
                if reached_end or page.size < self.page_size:
                    break
                if page.total_count is not None and offset >= page.total_count:
                    break
        return listing
