"""How many heavy requests (a whole run: its report, Gantt, lineage) the web view serves at once.

Each one reads up to a page of a run's nodes and builds them in memory; eight at once over a big run
used to take the server past a gigabyte. Excess requests wait briefly for a slot, then get 503 with
``Retry-After``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator

from fastapi import Request

from airflow_provider_databand_dbt.www.errors import Busy

log = logging.getLogger(__name__)

DEFAULT_HEAVY_REQUESTS = 2
DEFAULT_WAIT_SECONDS = 20.0
RETRY_AFTER_SECONDS = 5
POLL_SECONDS = 0.05


class HeavyRequests:
    """A bounded number of slots for heavy requests.

    :param slots: requests served at once.
    :param wait_seconds: how long an excess request waits for a slot before it is refused.
    """

    def __init__(self, slots: int = DEFAULT_HEAVY_REQUESTS, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> None:
        self.slots = max(1, int(slots))
        self.wait_seconds = wait_seconds
        self._semaphore = threading.BoundedSemaphore(self.slots)

    async def acquire(self) -> None:
        # Polled from the event loop rather than blocking a worker thread: waiting requests must not
        # use up the thread pool that the light pages need.
        deadline = time.monotonic() + self.wait_seconds
        while not self._semaphore.acquire(blocking=False):
            if time.monotonic() >= deadline:
                self._refuse()
            await asyncio.sleep(POLL_SECONDS)

    def _refuse(self) -> None:
        log.warning("Refused a heavy request: %s already being served for %.0f s", self.slots, self.wait_seconds)
        raise Busy(
            f"The web view is busy serving {self.slots} large requests; retry in {RETRY_AFTER_SECONDS} seconds.",
            retry_after=RETRY_AFTER_SECONDS,
        )

    def release(self) -> None:
        self._semaphore.release()


async def heavy_slot(request: Request) -> AsyncIterator[None]:
    """FastAPI dependency: hold one of the app's heavy-request slots for the duration of the request."""
    slots: HeavyRequests = request.app.state.heavy_requests
    await slots.acquire()
    try:
        yield
    finally:
        slots.release()
