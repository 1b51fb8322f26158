"""One request budget per dbt Cloud account, shared by every process that tracks into the same store.

dbt Cloud allows a number of requests per minute per *account* and locks the whole account out (five
minutes) when it is exceeded, so a monitor backfill plus a few Airflow tasks can lock each other out.
:class:`SharedBudget` draws tokens from a bucket kept in the tracking store (``tracking/request_budget.py``)
in small batches (about one second's worth), spends them locally, and asks again only when they are gone,
so the store sees one transaction per batch, not per request. A 429 blocks the account in the store for
its ``Retry-After``; every process then waits before its next request to that account.

The store may be missing a budget for the account (no monitor recorded one): the client's local limit
applies then. The store may be unreachable: the local limit applies too, after one warning.
This module knows the store only through :class:`BudgetStore`, so the client needs no database code.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from typing import Callable, Optional, Protocol

from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudRateLimitError
from airflow_provider_databand_dbt.dbt_cloud.ratelimit import TokenBucket

log = logging.getLogger(__name__)

# A batch is at most this many seconds of the budget, and is given back (or re-asked) after it.
BATCH_SECONDS = 1.0
# After a store error, use the local limit for this long before trying the store again.
STORE_RETRY_SECONDS = 30.0
# A 429 without Retry-After blocks the account this long: one short pause for every process (each 429
# renews it), not a long guess that would stall callers whose own retries expect seconds.
DEFAULT_BLOCK_SECONDS = 5.0
# Longest single sleep while waiting for tokens, so close() and a changed budget are noticed.
MAX_SLEEP_SECONDS = 1.0


@dataclasses.dataclass(frozen=True)
class Grant:
    """What the store answered to a request for tokens.

    :param tokens: tokens granted (0 when the account is blocked or has no budget).
    :param wait: seconds before the granted tokens may be spent, or until the block ends.
    :param requests_per_minute: the account's budget, None when the store has none (the local limit applies).
    :param blocked: the account is blocked after a 429.
    """

    tokens: int
    wait: float = 0.0
    requests_per_minute: Optional[float] = None
    blocked: bool = False


class BudgetStore(Protocol):
    """The store side of the shared budget (``tracking/request_budget.py`` via ``TrackingStore``)."""

    def take_request_tokens(self, host: str, account_id: int, want: int, returned: int = 0) -> Grant:
        """Give back ``returned`` unspent tokens, refill, and take ``want`` tokens (or none) in one transaction."""
        ...

    def block_account(self, host: str, account_id: int, seconds: float, owner: str) -> None:
        """Block the account for ``seconds`` (never shortening a longer block)."""
        ...

    def give_back_request_tokens(self, host: str, account_id: int, tokens: int) -> None:
        """Return unspent tokens (capped at the bucket's capacity)."""
        ...


class BudgetWaitTooLong(Exception):
    """Waiting for the budget would outlast the caller's deadline; ``wait`` seconds were needed."""

    def __init__(self, wait: float, blocked: bool) -> None:
        super().__init__(f"{wait:.0f} s")
        self.wait = wait
        self.blocked = blocked

    def error(self, what: str, account_id: int, deadline: str, url: str) -> DbtCloudRateLimitError:
        """The caller's error: ``what`` (``GET ... was not sent``), why, and for how long."""
        why = "is blocked after a 429 (dbt Cloud's lock-out)" if self.blocked else "has no request budget left"
        return DbtCloudRateLimitError(
            f"{what}: account {account_id} {why} for {self.wait:.0f} s more, longer than what {deadline} leaves; "
            "try again later.",
            retry_after=self.wait,
            url=url,
        )


@dataclasses.dataclass
class _Account:
    """One account's local view: the batch in hand, the budget it came from, and when to ask again."""

    tokens: int = 0
    expires: float = 0.0
    rate: Optional[float] = None  # the budget when the batch was taken; None: no budget row
    wait_until: float = 0.0
    blocked: bool = False


class SharedBudget:
    """Per-account tokens from the store for one dbt Cloud host; thread-safe; one per client.

    :param store: the store holding the budgets.
    :param host: ``host[:port]`` of the dbt Cloud API (the budget's key with the account id).
    :param local: the client's own limit, used when the store has no budget or cannot be reached
        (None: no limit without a budget, the last known budget's rate when the store is down).
    :param owner: who we are, recorded with a block (the tracker and ``host:pid``).
    :param batch_seconds: largest batch taken at once, in seconds of the budget (at least one token);
        a batch is also re-checked against the store after this long, so a block is seen within it.
    """

    def __init__(
        self,
        store: BudgetStore,
        host: str,
        *,
        local: Optional[TokenBucket] = None,
        owner: str = "",
        batch_seconds: float = BATCH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.host = host
        self.local = local
        self.owner = owner
        self.batch_seconds = batch_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._accounts: dict[int, _Account] = {}
        self._store_down_until = 0.0
        self._fallbacks: dict[float, TokenBucket] = {}
        self._closed = threading.Event()
        self.store_calls = 0

    def __repr__(self) -> str:
        return f"SharedBudget(host={self.host!r}, local={self.local!r})"

    # -- taking ------------------------------------------------------------------------------

    def acquire(self, account_id: int, max_wait: Optional[float] = None) -> float:
        """Block until one request to ``account_id`` may be sent; returns the seconds waited.

        :param max_wait: the caller's deadline: raise :class:`BudgetWaitTooLong` at once instead of
            sleeping past it (e.g. a 300 s block when the collection has 60 s left).
        """
        waited = 0.0
        while not self._closed.is_set():
            wait, blocked, fallback = self._try_take(account_id)
            if fallback is not None:
                return waited + fallback.acquire()
            if wait <= 0:
                return waited
            if max_wait is not None and waited + wait > max_wait:
                raise BudgetWaitTooLong(wait, blocked)
            pause = min(wait, MAX_SLEEP_SECONDS)
            self._closed.wait(pause)
            waited += pause
        return waited

    def _try_take(self, account_id: int) -> tuple[float, bool, Optional[TokenBucket]]:
        """``(seconds to wait, blocked, None)``, or ``(0, False, bucket)`` when a local bucket decides."""
        with self._lock:
            now = self._clock()
            state = self._accounts.setdefault(account_id, _Account())
            if state.wait_until > now:
                return state.wait_until - now, state.blocked, None
            if state.expires > now:
                if state.rate is None:
                    return 0.0, False, self._local_bucket(None)
                if state.tokens > 0:
                    state.tokens -= 1
                    return 0.0, False, None
            if now < self._store_down_until:
                return 0.0, False, self._local_bucket(state.rate)
            # Tokens not spent within their batch time go back: spent soon after being taken, or not at all.
            grant = self._ask_store(account_id, self._batch_size(state.rate), state.tokens)
            state.tokens = 0
            if grant is None:
                return 0.0, False, self._local_bucket(state.rate)
            state.rate, state.expires, state.blocked = (
                grant.requests_per_minute,
                now + self.batch_seconds,
                grant.blocked,
            )
            if grant.blocked:
                state.wait_until = now + grant.wait
                return grant.wait, True, None
            if grant.requests_per_minute is None:
                state.tokens = 0
                return 0.0, False, self._local_bucket(None)
            state.tokens = grant.tokens
            if grant.wait > 0:  # reserved: usable once the refill has paid for it, for a batch's time
                state.wait_until = now + grant.wait
                state.expires = state.wait_until + self.batch_seconds
                return grant.wait, False, None
            if state.tokens > 0:
                state.tokens -= 1
                return 0.0, False, None
            return 0.001, False, None

    def _batch_size(self, rate: Optional[float]) -> int:
        """Tokens to ask for: ``batch_seconds`` of the budget (of the local limit before the budget is known)."""
        if rate is None and self.local is not None:
            rate = self.local.requests_per_minute
        if rate is None:
            return 1
        return max(1, math.floor(rate / 60.0 * self.batch_seconds))

    def _ask_store(self, account_id: int, want: int, returned: int) -> Optional[Grant]:
        """One store transaction; None (and the local limit for a while) when the store fails."""
        try:
            self.store_calls += 1
            grant = self.store.take_request_tokens(self.host, account_id, want, returned)
        except Exception as exc:  # noqa: BLE001 - tracking never fails because the budget table is unreachable
            self._store_failed(exc)
            return None
        if self._store_down_until:
            log.info("request budget of %s: the tracking store answers again; using the shared budget", self.host)
            self._store_down_until = 0.0
        return grant

    def _store_failed(self, exc: Exception) -> None:
        first = self._store_down_until == 0.0
        self._store_down_until = self._clock() + STORE_RETRY_SECONDS
        if first:
            log.warning(
                "request budget of %s: the tracking store cannot be used (%s: %s); using the local request "
                "limit until it answers again",
                self.host,
                type(exc).__name__,
                " ".join(str(exc).split())[:300],
            )

    def _local_bucket(self, rate: Optional[float]) -> Optional[TokenBucket]:
        """The client's own limit; without one, a local bucket at the last known shared rate; else no limit."""
        if self.local is not None:
            return self.local
        if rate is None:
            return _NO_LIMIT
        bucket = self._fallbacks.get(rate)
        if bucket is None:
            bucket = self._fallbacks[rate] = TokenBucket(rate)
        return bucket

    # -- 429 and closing -------------------------------------------------------------------------

    def rate_limited(self, account_id: int, retry_after: Optional[float]) -> None:
        """dbt Cloud answered 429: block the account here and, for every process, in the store."""
        seconds = DEFAULT_BLOCK_SECONDS if retry_after is None else max(0.0, retry_after)
        with self._lock:
            state = self._accounts.setdefault(account_id, _Account())
            state.tokens, state.expires, state.blocked = 0, 0.0, True
            state.wait_until = max(state.wait_until, self._clock() + seconds)
            if self._clock() < self._store_down_until:
                return
        log.warning(
            "dbt Cloud rate limit hit on account %s of %s: every process tracking into the store waits %.0f s",
            account_id,
            self.host,
            seconds,
        )
        try:
            self.store_calls += 1
            self.store.block_account(self.host, account_id, seconds, self.owner)
        except Exception as exc:  # noqa: BLE001 - the local block still holds
            with self._lock:
                self._store_failed(exc)

    def close(self) -> None:
        """Stop waiting (a shutdown) and give unspent tokens back to the store."""
        self._closed.set()
        with self._lock:
            unspent = {acc: s.tokens for acc, s in self._accounts.items() if s.tokens > 0}
            for state in self._accounts.values():
                state.tokens = 0
            if self._clock() < self._store_down_until:
                return
        for account_id, tokens in unspent.items():
            try:
                self.store_calls += 1
                self.store.give_back_request_tokens(self.host, account_id, tokens)
            except Exception as exc:  # noqa: BLE001 - tokens not given back only make others wait a little
                log.debug("request budget: could not give back %s tokens: %s", tokens, exc)
                return


class _Unlimited(TokenBucket):
    """No limit at all (a process without a local limit and without a shared budget)."""

    def __init__(self) -> None:
        super().__init__(1.0)

    def acquire(self) -> float:
        return 0.0


_NO_LIMIT = _Unlimited()
