"""Real browser: the Incidents page, and a node's incidents, from runs stored through the AlertSink."""

from __future__ import annotations

import pytest
from test_browser import _browser_and_clean_tree, browser, screenshot, visible_text  # noqa: F401 - fixtures
from ui_process import running_ui

from airflow_provider_databand_dbt.alerts.sink import AlertSink
from airflow_provider_databand_dbt.sinks.service import TrackingService
from airflow_provider_databand_dbt.testing.synthetic_runs import NodeSpec, build_report
from airflow_provider_databand_dbt.tracking.store import TrackingStore

pytestmark = pytest.mark.browser


def _nodes(b: str = "success", a_seconds: float = 4.0):
    return [
        NodeSpec(name="stg_orders", seconds=a_seconds, rows=1200),
        NodeSpec(name="fct_orders", status=b, depends_on=("model.shop.stg_orders",), rows=900),
        NodeSpec(
            name="orders_report", status="skipped" if b == "error" else "success", depends_on=("model.shop.fct_orders",)
        ),
    ]


@pytest.fixture(scope="module")
def incidents_server(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('incidents') / 'tracking.db'}"
    with TrackingStore(url) as store:
        service = TrackingService(store, [AlertSink(lambda conn, notes: None)])
        for run_id in range(1, 8):
            service.record(build_report(run_id, nodes=_nodes()))
        service.record(build_report(8, status="error", nodes=_nodes("error")))
        service.record(build_report(9, nodes=_nodes(a_seconds=30.0)))
        service.record(build_report(10, status="error", nodes=_nodes("error")))
    with running_ui(url) as base:
        yield base


def test_incidents_page_then_a_node_with_its_incidents(incidents_server, browser):  # noqa: F811 - fixture
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(incidents_server + "/")
    browser.find_element(By.LINK_TEXT, "Incidents").click()
    WebDriverWait(browser, 15).until(ec.title_contains("Incidents"))
    table = visible_text(browser, "table.incidents")
    assert "model fct_orders failed in job 1 (run 10)" in table
    assert "model stg_orders took 30.0s" in table
    assert "Database Error in fct_orders" in table
    screenshot(browser, "incidents")

    browser.find_element(By.CSS_SELECTOR, "table.incidents a[href^='/nodes/model.shop.fct_orders']").click()
    WebDriverWait(browser, 15).until(ec.title_contains("fct_orders"))
    box = visible_text(browser, "#incidents")
    assert "1 open" in box and "resolved" in box and "open" in box
