"""Helpers for the webhook tests and benchmark: payloads signed with hmac here, raw HTTP posts, a monitor in-process.

The benchmark imports this module too (``benchmarks/bench_webhooks.py`` puts this folder on sys.path).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import sqlalchemy as sa
from monitor_helpers import TOKEN_ENV, free_port, wait_for, write_config

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN, HOURLY_JOB_ID
from airflow_provider_databand_dbt.tracking.schema import runs, sources, webhook_events

SECRET_ENV = "MONITOR_TEST_WEBHOOK_SECRET"
SECRET = "whsec-test-0123456789abcdef"


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(
    event_type: str,
    run_id: int,
    *,
    event_id: Optional[str] = None,
    account_id: Any = DEMO_ACCOUNT_ID,
    job_id: int = HOURLY_JOB_ID,
) -> dict:
    """A delivery shaped as dbt Cloud documents it: ids in ``data`` are strings."""
    return {
        "accountId": account_id,
        "webhooksID": "wsu_test",
        "eventId": event_id or f"wev_{uuid.uuid4().hex}",
        "timestamp": "2026-01-31T19:28:15.742843678Z",
        "eventType": event_type,
        "webhookName": "monitor",
        "data": {
            "jobId": str(job_id),
            "jobName": "Hourly models",
            "runId": str(run_id),
            "environmentId": "20",
            "projectId": "10",
            "runStatus": "Success",
            "runStatusCode": 10,
            "runStatusMessage": "None",
        },
    }


def post(
    port: int,
    body: bytes,
    *,
    syncer: str = "main",
    signature: Optional[str] = "sign",
    headers: Optional[dict[str, str]] = None,
    timeout: float = 15,
) -> tuple[int, dict]:
    """POST ``body`` to the monitor's webhook route; ``signature="sign"`` signs it with :data:`SECRET`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if signature == "sign":
            sent["Authorization"] = sign(body)
        elif signature is not None:
            sent["Authorization"] = signature
        conn.request("POST", f"/webhooks/dbt-cloud/{syncer}", body=body, headers=sent)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def deliver(port: int, event: dict, **kwargs: Any) -> tuple[int, dict]:
    return post(port, json.dumps(event).encode(), **kwargs)


def webhook_config(path: Path, api_url: str, tracking_url: str, port: int, **main: Any) -> Path:
    """One syncer ``main`` on the demo account, polling rarely, receiving webhooks on ``port``."""
    syncer = {"webhook_secret_env": SECRET_ENV, **main.pop("syncer", {})}
    main = {"interval": 3600, "webhook_port": port, "webhook_host": "127.0.0.1", **main}
    return write_config(path, api_url, tracking_url, syncers={"main": syncer}, **main)


def environ(**extra: str) -> dict[str, str]:
    return {TOKEN_ENV: DEMO_TOKEN, SECRET_ENV: SECRET, **extra}


@contextlib.contextmanager
def monitor_in_process(config_path: Path, *, store=None, env: Optional[dict] = None) -> Iterator[Any]:
    """The real daemon on a thread (signals stay with pytest); yields it once its webhook port answers."""
    from airflow_provider_databand_dbt.monitor.config import load_config
    from airflow_provider_databand_dbt.monitor.daemon import MonitorDaemon

    config = load_config(str(config_path), environ=env or environ())
    daemon = MonitorDaemon(config, store=store)
    result: dict[str, int] = {}
    thread = threading.Thread(target=lambda: result.setdefault("code", daemon.run()), daemon=True)
    thread.start()
    wait_for(lambda: _answers(config.webhook_port) or not thread.is_alive(), 30, "the webhook port")
    assert thread.is_alive(), f"the monitor exited with {result.get('code')}"
    try:
        yield daemon
    finally:
        daemon.stop.set()
        thread.join(30)


def _answers(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/")
        conn.getresponse().read()
        conn.close()
        return True
    except OSError:
        return False


def event_states(engine: sa.Engine) -> dict[str, str]:
    """event id -> state, straight from the queue table."""
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(webhook_events.c.event_id, webhook_events.c.state)).all())


def webhook_sightings(engine: sa.Engine) -> dict[int, int]:
    """run id -> number of ``webhook`` source rows (one per tracking of the run by a webhook event)."""
    query = (
        sa.select(runs.c.run_id, sa.func.count(sources.c.id))
        .select_from(runs.join(sources, sources.c.run_pk == runs.c.id))
        .where(sources.c.kind == "webhook")
        .group_by(runs.c.run_id)
    )
    with engine.connect() as conn:
        return {int(run_id): int(count) for run_id, count in conn.execute(query).all()}


def run_rows(engine: sa.Engine) -> dict[int, int]:
    """run id -> rows with that id (1 unless a run was duplicated)."""
    with engine.connect() as conn:
        return {
            int(run_id): int(count)
            for run_id, count in conn.execute(sa.select(runs.c.run_id, sa.func.count()).group_by(runs.c.run_id)).all()
        }


def wait_processed(engine: sa.Engine, count: int, timeout: float = 60) -> dict[str, str]:
    """Wait until ``count`` events are done or failed; returns event id -> state."""

    def finished() -> Optional[dict[str, str]]:
        states = event_states(engine)
        return states if sum(state in ("done", "failed") for state in states.values()) >= count else None

    return wait_for(finished, timeout, f"{count} processed webhook events", every=0.1)


__all__ = [
    "SECRET",
    "SECRET_ENV",
    "deliver",
    "environ",
    "event_states",
    "free_port",
    "monitor_in_process",
    "payload",
    "post",
    "run_rows",
    "sign",
    "wait_processed",
    "webhook_config",
    "webhook_sightings",
]
