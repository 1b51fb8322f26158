"""Real-browser tests: Debian's Chromium, driven by Selenium, against ``databand-dbt ui`` in a subprocess.

The store is filled by the dbt Cloud emulator + the collector. Each page is opened, its visible
content checked, and a screenshot saved to .cache/screenshots/, or to the folder named by
``DATABAND_DBT_SCREENSHOTS`` (``DATABAND_DBT_SCREENSHOTS=docs/screenshots`` refreshes the README's).
Without chromium or selenium the tests skip, or fail under CI (see required_services.py).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from required_services import missing_service, under_ci
from ui_process import running_ui
from web_fill import FAILING_TEST, SKIPPED_MODEL

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TRACKED_SCREENSHOTS = REPO / "docs" / "screenshots"
SCREENSHOTS = Path(os.environ.get("DATABAND_DBT_SCREENSHOTS") or REPO / ".cache" / "screenshots").resolve()
WIDTH = 1400
MAX_HEIGHT = 2400


def _missing_browser_part() -> tuple[str, str] | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium", "pip install -e '.[test]'"
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        return "chromium + chromium-driver", "bash scripts/install_browser.sh"
    return None


MISSING = _missing_browser_part()
if MISSING and not under_ci():
    pytest.skip(f"{MISSING[0]} not installed ({MISSING[1]})", allow_module_level=True)


def _tracked_screenshot_hashes() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(TRACKED_SCREENSHOTS.glob("*.png"))}


@pytest.fixture(scope="module", autouse=True)
def _browser_and_clean_tree():
    """Fail under CI without a browser; afterwards, the README's screenshots must be as they were."""
    if MISSING:
        missing_service(*MISSING)
    before = _tracked_screenshot_hashes()
    yield
    if SCREENSHOTS != TRACKED_SCREENSHOTS.resolve():
        assert _tracked_screenshot_hashes() == before, "browser tests modified docs/screenshots/"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``databand-dbt ui`` on a free port over a store filled by the emulator + collector."""
    from web_fill import fill_store

    from airflow_provider_databand_dbt.testing.emulator import DbtCloudEmulator
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'tracking.db'}"
    with DbtCloudEmulator() as emulator, TrackingStore(url) as store:
        filled = fill_store(store, emulator)
    with running_ui(url, "--airflow-url", "http://airflow.example:8080") as base:
        yield base, filled


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="databand-dbt-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={WIDTH},1000",
        f"--user-data-dir={profile}",
        "--lang=en-GB",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver, name: str) -> Path:
    """The whole page (up to MAX_HEIGHT px), WIDTH px wide, as SCREENSHOTS/<name>.png."""
    bottom = driver.execute_script(
        "return Math.ceil(document.querySelector('footer').getBoundingClientRect().bottom + window.scrollY)"
    )
    height = min(bottom + 8, MAX_HEIGHT)
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1},
        },
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    assert path.stat().st_size > 10_000
    return path


def screenshot_section(driver, css: str, name: str) -> Path:
    """One section of a long page (e.g. the run's timeline) as SCREENSHOTS/<name>.png."""
    top, height = driver.execute_script(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return [r.top + window.scrollY, r.height];",
        css,
    )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": max(top - 12, 0), "width": WIDTH, "height": min(height + 24, MAX_HEIGHT), "scale": 1},
        },
    )
    path = SCREENSHOTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def visible_text(driver, css: str) -> str:
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.CSS_SELECTOR, css)
    assert element.is_displayed(), css
    return element.text


def test_click_through_pipeline_run_node(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base, filled = server
    wait = WebDriverWait(browser, 15)

    browser.get(base + "/")
    table = visible_text(browser, "table.pipelines")
    assert "Nightly build" in table and "Hourly models" in table
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.spark")) == 2
    screenshot(browser, "pipelines")

    browser.find_element(By.LINK_TEXT, "Nightly build").click()
    wait.until(ec.title_contains("Nightly build"))
    assert browser.find_element(By.CSS_SELECTOR, "#trend svg.chart").is_displayed()
    assert len(browser.find_elements(By.CSS_SELECTOR, "#trend .failed-mark")) == 3
    assert str(filled.latest_failed_run) in visible_text(browser, "table.runs")
    screenshot(browser, "pipeline")

    browser.find_element(By.CSS_SELECTOR, "table.runs tbody tr:first-child a").click()
    wait.until(ec.title_contains(f"Run {filled.latest_failed_run}"))
    nodes = visible_text(browser, "table.nodes")
    assert FAILING_TEST in nodes
    lineage = visible_text(browser, "#lineage")
    assert "customer_ltv_forecast" in lineage and SKIPPED_MODEL in lineage
    assert len(browser.find_elements(By.CSS_SELECTOR, "#timeline svg.gantt")) == 2
    assert "dbt_nightly.run_nightly" in visible_text(browser, ".sources")
    screenshot(browser, "run")
    screenshot_section(browser, "#timeline", "run-timeline")

    # Filtering uses the tiny script: choosing a type reloads the page with the filter applied.
    Select(browser.find_element(By.CSS_SELECTOR, "select[name=type]")).select_by_value("model")
    wait.until(ec.url_contains("type=model"))
    filtered = visible_text(browser, "table.nodes")
    assert SKIPPED_MODEL in filtered and FAILING_TEST not in filtered

    browser.get(base + f"/runs/{filled.latest_failed_run}")
    browser.find_element(By.LINK_TEXT, FAILING_TEST).click()
    wait.until(ec.title_contains(FAILING_TEST))
    assert "Failing since run" in visible_text(browser, "#verdict-failing")
    assert browser.find_element(By.CSS_SELECTOR, "#trend svg.chart").is_displayed()
    screenshot(browser, "node")


def test_run_in_progress_and_missing_artifacts(server, browser):
    base, filled = server
    browser.get(base + f"/runs/{filled.running_run}")
    assert "still in progress" in visible_text(browser, "#in-progress")
    screenshot(browser, "run-in-progress")
    browser.get(base + f"/runs/{filled.missing_artifacts_run}")
    assert "run_results.json" in visible_text(browser, "#missing-artifacts")


def test_unknown_run_page(server, browser):
    base, _ = server
    browser.get(base + "/runs/123")
    text = visible_text(browser, ".error-page")
    assert "404" in text and "Run 123 is not in this tracking store" in text
    screenshot(browser, "not-found")
