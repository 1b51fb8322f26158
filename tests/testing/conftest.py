"""Helpers for the emulator tests: plain ``requests`` against the running emulator (not our client)."""

from __future__ import annotations

import time
from typing import Any, Callable

import pytest
import requests

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN

ACCOUNT = f"/api/v2/accounts/{DEMO_ACCOUNT_ID}"


class Api:
    """A requests session bound to one emulator, with the demo token unless told otherwise."""

    def __init__(self, base_url: str, token: str | None = DEMO_TOKEN) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Token {token}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.get(self.base_url + path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.post(self.base_url + path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.delete(self.base_url + path, **kwargs)

    def data(self, path: str, **kwargs: Any) -> Any:
        """GET and return ``data`` of a successful envelope."""
        response = self.get(path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def close(self) -> None:
        self.session.close()


@pytest.fixture()
def api(emulator):
    client = Api(emulator.url)
    yield client
    client.close()


def _wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01) -> Any:
    """Poll until ``predicate()`` is truthy and return its value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def _assert_envelope(body: dict[str, Any], code: int = 200) -> None:
    assert set(body) == {"status", "data", "extra"}
    status = body["status"]
    assert status["code"] == code
    assert status["is_success"] is (code < 400)
    assert isinstance(status["user_message"], str) and status["user_message"]
    assert "developer_message" in status
    if code >= 400:
        assert body["data"] is None


@pytest.fixture()
def wait_for():
    """``wait_for(predicate, timeout=10)``: poll until truthy, return the value."""
    return _wait_for


@pytest.fixture()
def check_envelope():
    """``check_envelope(body, code=200)``: assert dbt Cloud's envelope shape."""
    return _assert_envelope
