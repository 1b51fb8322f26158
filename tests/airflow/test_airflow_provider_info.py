"""get_provider_info() is valid for Airflow and matches what the package really exports."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import pytest

pytest.importorskip("airflow")


@pytest.fixture(scope="module")
def info():
    from airflow_provider_databand_dbt.get_provider_info import get_provider_info

    return get_provider_info()


def test_matches_airflow_schema(info):
    import airflow
    import jsonschema

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(info, schema)
    assert info["package-name"] == "airflow-provider-databand-dbt"


def test_entry_point_airflow_loads_returns_it(info):
    from importlib.metadata import entry_points

    (entry_point,) = [
        ep
        for ep in entry_points(group="apache_airflow_provider")
        if ep.value.startswith("airflow_provider_databand_dbt")
    ]
    assert entry_point.load()() == info


@pytest.mark.parametrize(
    ("kind", "exported"),
    [
        ("hooks", ["DbtCloudTrackingHook"]),
        ("operators", ["DbtCloudRunAndTrackOperator"]),
        ("sensors", ["DbtCloudRunAndTrackSensor"]),
        ("triggers", ["DbtCloudTrackingRunJobTrigger"]),
    ],
)
def test_listed_modules_define_the_public_classes(info, kind, exported):
    (entry,) = info[kind]
    (module_name,) = entry["python-modules"]
    module = importlib.import_module(module_name)
    package = importlib.import_module(f"airflow_provider_databand_dbt.{kind}")
    for name in exported:
        assert getattr(module, name) is getattr(package, name)


def test_extra_link_is_the_one_the_operator_and_sensor_use(info):
    from airflow_provider_databand_dbt.operators import DbtCloudRunAndTrackOperator
    from airflow_provider_databand_dbt.sensors import DbtCloudRunAndTrackSensor

    classes = set()
    for classpath in info["extra-links"]:  # today's path first, then the one DAGs serialized before 0.2 name
        module_name, class_name = classpath.rsplit(".", 1)
        classes.add(getattr(importlib.import_module(module_name), class_name))
    (link_class,) = classes
    assert info["extra-links"][0] == f"{link_class.__module__}.{link_class.__name__}"
    for task_class in (DbtCloudRunAndTrackOperator, DbtCloudRunAndTrackSensor):
        assert any(isinstance(link, link_class) for link in task_class.operator_extra_links)


def test_does_not_take_over_the_dbt_cloud_connection_type(info):
    assert "connection-types" not in info


def test_config_section_is_known_to_airflow(info):
    from airflow.providers_manager import ProvidersManager

    from airflow_provider_databand_dbt.hooks.config import airflow_tracking_url, web_url

    assert set(info["config"]["databand_dbt"]["options"]) == {"tracking_url", "web_url", "airflow_base_url"}
    provider = ProvidersManager().providers["airflow-provider-databand-dbt"]
    assert provider.data["config"] == info["config"]
    assert web_url() == "http://127.0.0.1:8788"
    assert airflow_tracking_url() == os.environ["DATABAND_DBT_TRACKING_URL"]


def test_config_values_come_from_airflow_env(monkeypatch):
    from airflow_provider_databand_dbt.hooks.config import airflow_tracking_url, run_page_url

    monkeypatch.setenv("AIRFLOW__DATABAND_DBT__WEB_URL", "https://tracking.example.com/")
    monkeypatch.setenv("AIRFLOW__DATABAND_DBT__TRACKING_URL", "sqlite:////tmp/from-airflow.db")
    assert run_page_url(42) == "https://tracking.example.com/runs/42"
    assert airflow_tracking_url() == "sqlite:////tmp/from-airflow.db"
    assert airflow_tracking_url(" sqlite:////tmp/explicit.db ") == "sqlite:////tmp/explicit.db"
