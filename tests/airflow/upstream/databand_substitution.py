"""Pytest plugin: put our Airflow classes in place of the dbt Cloud provider's before its tests import them.

Loaded with ``-p databand_substitution`` by ``scripts/upstream_provider_tests.py``. Every name the
provider's modules export for the hook, the run-job operator, the run sensor and the run trigger
(and every provider module's own reference to ``DbtCloudHook``) then points at our subclass, so
``from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudHook`` in a provider test, and
``mock.patch("airflow.providers.dbt.cloud.operators.dbt.DbtCloudHook.run")``, both get ours.
"""
from __future__ import annotations

import importlib

import pytest

PROVIDER = "airflow.providers.dbt.cloud"

# provider module -> {provider name: (our module, our name)}
SUBSTITUTIONS = {
    f"{PROVIDER}.hooks.dbt": {"DbtCloudHook": ("airflow_provider_databand_dbt.hooks.dbt", "DbtCloudTrackingHook")},
    f"{PROVIDER}.operators.dbt": {
        "DbtCloudHook": ("airflow_provider_databand_dbt.hooks.dbt", "DbtCloudTrackingHook"),
        "DbtCloudRunJobOperator": ("airflow_provider_databand_dbt.operators.dbt", "DbtCloudRunAndTrackOperator"),
        "DbtCloudRunJobTrigger": ("airflow_provider_databand_dbt.triggers.dbt", "DbtCloudTrackingRunJobTrigger"),
    },
    f"{PROVIDER}.sensors.dbt": {
        "DbtCloudHook": ("airflow_provider_databand_dbt.hooks.dbt", "DbtCloudTrackingHook"),
        "DbtCloudJobRunSensor": ("airflow_provider_databand_dbt.sensors.dbt", "DbtCloudRunAndTrackSensor"),
        "DbtCloudRunJobTrigger": ("airflow_provider_databand_dbt.triggers.dbt", "DbtCloudTrackingRunJobTrigger"),
    },
    f"{PROVIDER}.triggers.dbt": {
        "DbtCloudHook": ("airflow_provider_databand_dbt.hooks.dbt", "DbtCloudTrackingHook"),
        "DbtCloudRunJobTrigger": ("airflow_provider_databand_dbt.triggers.dbt", "DbtCloudTrackingRunJobTrigger"),
    },
}


def substitute() -> list[str]:
    """Replace the provider's classes by ours; returns ``provider.Name -> our.Name`` lines."""
    # Our modules first: they subclass the provider's classes, which must still be the originals.
    ours = {
        (module, name): getattr(importlib.import_module(module), name)
        for names in SUBSTITUTIONS.values()
        for module, name in names.values()
    }
    done = []
    for provider_module, names in SUBSTITUTIONS.items():
        target = importlib.import_module(provider_module)
        for provider_name, (module, name) in names.items():
            if not hasattr(target, provider_name):
                raise RuntimeError(f"{provider_module} has no {provider_name}: the substitution list is out of date")
            replacement = ours[(module, name)]
            if not issubclass(replacement, getattr(target, provider_name)):
                raise RuntimeError(f"{module}.{name} is not a subclass of {provider_module}.{provider_name}")
            setattr(target, provider_name, replacement)
            done.append(f"{provider_module}.{provider_name} -> {module}.{name}")
    return done


_LINES = pytest.StashKey[list]()


def pytest_configure(config) -> None:
    config.stash[_LINES] = substitute()


def pytest_report_header(config) -> list[str]:
    return ["databand substitution: " + line for line in config.stash.get(_LINES, [])]

