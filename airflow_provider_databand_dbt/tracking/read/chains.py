"""Retry chains: runs linked by dbt Cloud's "rerun from failure", read for the Run page and the pass rates.

A retry stores the dbt Cloud id of the run it retries (``retry_of_run_id``, same host and account);
a chain is followed both ways from any of its runs, one indexed lookup per link.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.model.status import RunStatus
from airflow_provider_databand_dbt.tracking.read.models import ChainRun, RetryChain
from airflow_provider_databand_dbt.tracking.schema import runs, steps

# dbt Cloud allows a retry only of a job's latest failed run; a longer chain is a loop in bad data.
MAX_CHAIN = 100


def retry_chain(
    conn: Connection, host: str, account_id: int, run_id: int, retry_of_run_id: Optional[int]
) -> Optional[RetryChain]:
    """The chain the run belongs to, or None when it neither retries nor was retried by a stored run."""
    account = (runs.c.host == host, runs.c.account_id == account_id)
    earlier: list[ChainRun] = []
    seen = {run_id}
    previous = retry_of_run_id
    while previous is not None and previous not in seen and len(seen) < MAX_CHAIN:
        seen.add(previous)
        row = conn.execute(
            sa.select(runs.c.status, runs.c.retry_of_run_id).where(*account, runs.c.run_id == previous)
        ).first()
        earlier.append(ChainRun(run_id=previous, status=row.status if row else None, stored=row is not None))
        previous = row.retry_of_run_id if row else None
    later: list[ChainRun] = []
    current = run_id
    while len(seen) < MAX_CHAIN:
        row = conn.execute(
            sa.select(runs.c.run_id, runs.c.status)
            .where(*account, runs.c.retry_of_run_id.isnot(None), runs.c.retry_of_run_id == current)
            .order_by(runs.c.run_id)
            .limit(1)
        ).first()
        if row is None or row.run_id in seen:
            break
        seen.add(row.run_id)
        later.append(ChainRun(run_id=row.run_id, status=row.status))
        current = row.run_id
    if not earlier and not later:
        return None
    status = conn.execute(sa.select(runs.c.status).where(*account, runs.c.run_id == run_id)).scalar()
    chain = [*reversed(earlier), ChainRun(run_id=run_id, status=status), *later]
    first = chain[0]
    return RetryChain(
        first_run_id=first.run_id,
        position=len(earlier),
        failed_step=_failed_step(conn, host, account_id, first.run_id),
        runs=chain,
    )


def _failed_step(conn: Connection, host: str, account_id: int, run_id: int) -> Optional[int]:
    """The first step of the run that ended in error (the step a retry from failure starts again at)."""
    return conn.execute(
        sa.select(sa.func.min(steps.c.step_index))
        .select_from(steps.join(runs, runs.c.id == steps.c.run_pk))
        .where(
            runs.c.host == host,
            runs.c.account_id == account_id,
            runs.c.run_id == run_id,
            steps.c.status == RunStatus.ERROR.label,
        )
    ).scalar()


def retried_run_pks(conn: Connection, run_pks: Iterable[int]) -> set[int]:
    """The runs among ``run_pks`` that a stored run retries: a chain counts once, by its last run."""
    pks = list(run_pks)
    if not pks:
        return set()
    # Two lookups by index (the runs by id, their retries by retry_of_run_id) instead of a correlated
    # EXISTS, which SQLite may answer by walking the account's runs: the cost stays that of the window.
    window = conn.execute(
        sa.select(runs.c.id, runs.c.host, runs.c.account_id, runs.c.run_id).where(runs.c.id.in_(pks))
    ).all()
    run_ids = sorted({row.run_id for row in window})
    retried = {
        (row.host, row.account_id, row.retry_of_run_id)
        for row in conn.execute(
            sa.select(runs.c.host, runs.c.account_id, runs.c.retry_of_run_id).where(
                runs.c.retry_of_run_id.isnot(None), runs.c.retry_of_run_id.in_(run_ids)
            )
        )
    }
    return {row.id for row in window if (row.host, row.account_id, row.run_id) in retried}
