"""Numbers past 64 bits in addresses are simply not found (or a bad request), never a 500."""

from __future__ import annotations

import pytest

HUGE = "99999999999999999999"  # over 2**63 - 1


@pytest.mark.parametrize(
    "path",
    [
        f"/runs/{HUGE}",
        f"/api/runs/{HUGE}",
        f"/runs/{2**63}",
        f"/api/runs/{2**63}",
        f"/pipelines/{HUGE}",
        f"/api/pipelines/{HUGE}",
        f"/api/runs/{HUGE}/nodes",
        f"/api/runs/{HUGE}/timeline",
        f"/api/runs/{HUGE}/lineage",
    ],
)
def test_huge_ids_are_not_found(client, path):
    response = client.get(path)
    assert response.status_code == 404, response.text
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "path",
    [
        f"/nodes/model.x.y?job_id={HUGE}",
        f"/api/runs?job_id={HUGE}",
        f"/api/runs/1?account={HUGE}",
        f"/runs/1?account=-{HUGE}",
        f"/api/nodes/model.x.y?job_id={HUGE}",
    ],
)
def test_huge_filters_are_bad_requests(client, path):
    assert client.get(path).status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        f"/api/runs?page={HUGE}",
        f"/runs?page={HUGE}",
        f"/api/pipelines?page={HUGE}",
        f"/nodes?page={HUGE}",
        f"/api/runs?page={2**62}&page_size=500",
    ],
)
def test_huge_pages_are_empty_pages(client, path):
    assert client.get(path).status_code == 200
