"""Clients wired to the emulator with retry settings small enough to keep the suite fast."""

from __future__ import annotations

import pytest

from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy

FAST_RETRY = RetryPolicy(max_attempts=4, max_total_seconds=10.0, backoff_base=0.01, backoff_max=0.05)


class ListenerLog:
    """A request_listener that remembers every (method, route, outcome)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def __call__(self, method: str, route: str, outcome: str) -> None:
        self.calls.append((method, route, outcome))

    @property
    def outcomes(self) -> list[str]:
        return [outcome for _, _, outcome in self.calls]


@pytest.fixture()
def listener():
    return ListenerLog()


@pytest.fixture()
def make_client(emulator, listener):
    """``make_client(**options)``: a client for the emulator's demo account; closed after the test."""
    from airflow_provider_databand_dbt.testing.emulator import DEMO_TOKEN

    clients = []

    def factory(token: str = DEMO_TOKEN, api_url: str | None = None, **options) -> DbtCloudClient:
        options.setdefault("retry", FAST_RETRY)
        options.setdefault("timeout", (2.0, 5.0))
        options.setdefault("request_listener", listener)
        client = DbtCloudClient(token, api_url or emulator.url, **options)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture()
def client(make_client):
    return make_client()
