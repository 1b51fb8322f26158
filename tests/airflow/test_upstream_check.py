"""scripts/upstream_provider_tests.py: how it reads pytest's report and the allow-list."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def check():
    spec = importlib.util.spec_from_file_location(
        "upstream_provider_tests", ROOT / "scripts" / "upstream_provider_tests.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_report_gives_pytest_node_ids(check, tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text(
        "<testsuites><testsuite>"
        '<testcase classname="tests.unit.dbt.cloud.hooks.test_dbt.TestDbtCloudHook" name="test_a[x-1]">'
        "<failure/></testcase>"
        '<testcase classname="tests.unit.dbt.cloud.sensors.test_dbt.TestSensor" name="test_b"><error/></testcase>'
        '<testcase classname="tests.unit.dbt.cloud.operators.test_dbt.TestOp" name="test_c"><skipped/></testcase>'
        '<testcase classname="tests.unit.dbt.cloud.triggers.test_dbt" name="test_d"/>'
        "</testsuite></testsuites>"
    )
    failed, skipped, total = check.results(junit)
    assert failed == [
        "tests/unit/dbt/cloud/hooks/test_dbt.py::TestDbtCloudHook::test_a[x-1]",
        "tests/unit/dbt/cloud/sensors/test_dbt.py::TestSensor::test_b",
    ]
    assert skipped == ["tests/unit/dbt/cloud/operators/test_dbt.py::TestOp::test_c"]
    assert total == 4


def test_an_entry_without_brackets_allows_every_parametrization(check):
    entry = "tests/unit/dbt/cloud/hooks/test_dbt.py::TestDbtCloudHook::test_connection_success"
    assert check.allowed(f"{entry}[dbt_cloud_default]", {entry})
    assert check.allowed(entry, {entry})
    assert not check.allowed(f"{entry}_more", {entry})
    assert not check.allowed(entry, {f"{entry}[one]"})


def test_the_allow_list_holds_only_the_test_connection_tests(check):
    assert sorted(check.allowlist()) == [
        "tests/unit/dbt/cloud/hooks/test_dbt.py::TestDbtCloudHook::test_connection_failure",
        "tests/unit/dbt/cloud/hooks/test_dbt.py::TestDbtCloudHook::test_connection_success",
    ]


def test_the_plugins_are_the_upstream_tests_extra(check):
    assert [name.split(">", 1)[0] for name in check.plugins()] == ["pytest-asyncio", "requests-mock", "time-machine"]
