"""The request budget of each dbt Cloud account, in the store: a token bucket every process draws from.

One row per (host, account_id). ``tokens`` refill continuously at the budget's rate up to a capacity of
:data:`BURST_SECONDS` of it; a process reserves a small batch in one write transaction (SQLite ``BEGIN
IMMEDIATE``, PostgreSQL ``SELECT ... FOR UPDATE`` of the row), so two processes never spend the same token.
A reservation may take the balance below zero: the batch is then usable once the refill has paid for it.
The refill rate is ``requests_per_minute / (60 + BURST_SECONDS + BATCH_SECONDS)`` per second and the capacity
``BURST_SECONDS`` of that rate: a full bucket spent at once, plus a minute of refill, plus a batch spent up to
``BATCH_SECONDS`` after it was taken (clients give back what they did not spend by then) stays within
``requests_per_minute`` in any 60 s window.

Clock: ``updated_at`` and ``blocked_until`` are epoch seconds of the *store's* clock. On PostgreSQL that is
the server's ``clock_timestamp()``, so monitors and workers on hosts with skewed clocks still agree on refills
and blocks; a SQLite file is only shared by processes of one machine, which share its clock (``time.time()``).
Callers only ever get durations ("wait 3.2 s"), never a timestamp to compare with their own clock.

``requests_per_minute`` is NULL on a row that only records a block (a 429 seen where no budget was set):
processes then keep their local limit but still wait for the block.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.dbt_cloud.shared_budget import BATCH_SECONDS, Grant
from airflow_provider_databand_dbt.tracking.engine import upsert_statement
from airflow_provider_databand_dbt.tracking.schema import request_budgets as table

# The bucket holds this many seconds of the budget: the largest burst any set of processes can send.
BURST_SECONDS = 2.0
MAX_OWNER = 255


@dataclass(frozen=True)
class RequestBudget:
    """A stored budget as ``databand-dbt`` shows it (times are seconds relative to the store's now).

    :param blocked_for: seconds the account stays blocked after a 429 (0 when not blocked).
    """

    host: str
    account_id: int
    requests_per_minute: Optional[float]
    tokens: float
    blocked_for: float
    set_by: Optional[str]
    blocked_by: Optional[str]


def store_now(conn: Connection) -> float:
    """Epoch seconds of the store's clock (see the module docstring for why)."""
    if conn.dialect.name == "postgresql":
        return float(conn.execute(sa.text("SELECT EXTRACT(EPOCH FROM clock_timestamp())")).scalar_one())
    return time.time()


def refill_rate(requests_per_minute: float) -> float:
    """Tokens per second, leaving room for a full bucket and a late batch in every 60 s window."""
    return requests_per_minute / (60.0 + BURST_SECONDS + BATCH_SECONDS)


def capacity(requests_per_minute: float) -> float:
    """Most tokens the bucket holds: :data:`BURST_SECONDS` of the refill, at least one."""
    return max(1.0, refill_rate(requests_per_minute) * BURST_SECONDS)


def _key(host: str, account_id: int):
    return (table.c.host == host) & (table.c.account_id == account_id)


def _locked_row(conn: Connection, host: str, account_id: int):
    query = sa.select(table).where(_key(host, account_id))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()  # SQLite: the transaction's BEGIN IMMEDIATE already serialises writers
    return conn.execute(query).first()


def _refilled(row, now: float) -> float:
    if row.requests_per_minute is None:
        return 0.0
    elapsed = max(0.0, now - row.updated_at)  # the store's clock never runs backwards much; never refill < 0
    return min(capacity(row.requests_per_minute), row.tokens + elapsed * refill_rate(row.requests_per_minute))


def set_budget(conn: Connection, host: str, account_id: int, requests_per_minute: float, owner: str) -> None:
    """Record the account's budget (last writer wins); tokens are kept, capped at the new capacity."""
    now = store_now(conn)
    row = _locked_row(conn, host, account_id)
    full = capacity(requests_per_minute)
    values = {"requests_per_minute": float(requests_per_minute), "set_by": owner[:MAX_OWNER], "updated_at": now}
    if row is None:
        conn.execute(table.insert().values(host=host, account_id=account_id, tokens=full, **values))
        return
    tokens = full if row.requests_per_minute is None else min(full, _refilled(row, now))
    conn.execute(table.update().where(_key(host, account_id)).values(tokens=tokens, **values))


def take(conn: Connection, host: str, account_id: int, want: int, returned: int = 0) -> Grant:
    """Refill, then reserve ``want`` tokens, usable after ``Grant.wait`` seconds (the balance may go negative).

    Reserving instead of refusing keeps processes in a fair queue, in the order they asked, with one
    transaction per batch: nobody loses a race for the next tokens and asks again. ``want`` is capped at
    the capacity, so a batch sized by a stale rate is still served.

    :param returned: tokens of the caller's previous batch it did not spend in time, given back first.
    """
    now = store_now(conn)
    row = _locked_row(conn, host, account_id)
    if row is None:
        return Grant(tokens=0)
    rate = row.requests_per_minute
    if row.blocked_until is not None and row.blocked_until > now:
        return Grant(tokens=0, wait=row.blocked_until - now, requests_per_minute=rate, blocked=True)
    if rate is None:
        return Grant(tokens=0)
    want = min(max(1, want), math.floor(capacity(rate)))
    tokens = min(capacity(rate), _refilled(row, now) + max(0, returned)) - want
    conn.execute(table.update().where(_key(host, account_id)).values(tokens=tokens, updated_at=now))
    return Grant(tokens=want, wait=max(0.0, -tokens / refill_rate(rate)), requests_per_minute=rate)


def give_back(conn: Connection, host: str, account_id: int, tokens: int) -> None:
    """Return unspent tokens, capped at the capacity (returning never lets more out than was granted)."""
    now = store_now(conn)
    row = _locked_row(conn, host, account_id)
    if row is None or row.requests_per_minute is None or tokens <= 0:
        return
    refilled = min(capacity(row.requests_per_minute), _refilled(row, now) + tokens)
    conn.execute(table.update().where(_key(host, account_id)).values(tokens=refilled, updated_at=now))


def block(conn: Connection, host: str, account_id: int, seconds: float, owner: str) -> None:
    """Block the account until now + ``seconds`` (a later block already recorded is kept); empty its bucket."""
    now = store_now(conn)
    until = now + max(0.0, seconds)
    stmt = upsert_statement(conn, table).values(
        host=host, account_id=account_id, tokens=0.0, updated_at=now, blocked_until=until, blocked_by=owner[:MAX_OWNER]
    )
    later = sa.case((table.c.blocked_until > stmt.excluded.blocked_until, table.c.blocked_until), else_=until)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["host", "account_id"],
            set_={"blocked_until": later, "blocked_by": stmt.excluded.blocked_by, "tokens": 0.0, "updated_at": now},
        )
    )


def read(conn: Connection, host: Optional[str] = None, account_id: Optional[int] = None) -> list[RequestBudget]:
    """Stored budgets (all, or of one host / account), tokens refilled to now."""
    now = store_now(conn)
    query = sa.select(table).order_by(table.c.host, table.c.account_id)
    if host is not None:
        query = query.where(table.c.host == host)
    if account_id is not None:
        query = query.where(table.c.account_id == account_id)
    return [
        RequestBudget(
            host=row.host,
            account_id=row.account_id,
            requests_per_minute=row.requests_per_minute,
            tokens=_refilled(row, now),
            blocked_for=max(0.0, (row.blocked_until or 0.0) - now),
            set_by=row.set_by,
            blocked_by=row.blocked_by,
        )
        for row in conn.execute(query)
    ]
