"""Pytest plugin: put our Airflow classes in place of the dbt Cloud provider's before its tests import them.

Loaded with ``-p databand_substitution`` by ``scripts/upstream_provider_tests.py``. The names the
provider's modules use for the hook (in every module, so the provider's trigger and its other
operators run on our hook too), the run-job operator and the run sensor then point at our
subclasses: ``from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudHook`` in a provider test
and ``mock.patch("airflow.providers.dbt.cloud.operators.dbt.DbtCloudHook.run")`` both get ours.

Our trigger is not substituted: it differs from the provider's on purpose where those tests look
(its own serialized classpath, its own clock), and tests/airflow/triggers checks its events.
"""

from __future__ import annotations

import importlib
import socket

import pytest

PROVIDER = "airflow.providers.dbt.cloud"

# provider module -> {provider name: (our module, our name)}
SUBSTITUTIONS = {
    f"{PROVIDER}.hooks.dbt": {"DbtCloudHook": ("airflow_provider_databand_dbt.hooks.dbt", "DbtCloudTrackingHook")},
    f"{PROVIDER}.operators.dbt": {
        "DbtCloudHook": ("airflow_provider_databand_dbt.hooks.dbt", "DbtCloudTrackingHook"),
        "DbtCloudRunJobOperator": ("airflow_provider_databand_dbt.operators.dbt", "DbtCloudRunAndTrackOperator"),
    },
    f"{PROVIDER}.sensors.dbt": {
        "DbtCloudHook": ("airflow_provider_databand_dbt.hooks.dbt", "DbtCloudTrackingHook"),
        "DbtCloudJobRunSensor": ("airflow_provider_databand_dbt.sensors.dbt", "DbtCloudRunAndTrackSensor"),
    },
    f"{PROVIDER}.triggers.dbt": {"DbtCloudHook": ("airflow_provider_databand_dbt.hooks.dbt", "DbtCloudTrackingHook")},
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
                raise TypeError(f"{module}.{name} is not a subclass of {provider_module}.{provider_name}")
            setattr(target, provider_name, replacement)
            done.append(f"{provider_module}.{provider_name} -> {module}.{name}")
    return done


def loopback_only() -> None:
    """Refuse, at once, any name lookup but loopback's.

    The provider's tests mock its HTTP calls, not our tracking's, which would otherwise try the real
    dbt Cloud; tracking then fails fast (without retries, see below) and the task goes on as dbt's
    outcome says, with the tracking warning, which is what those tests then check.
    """
    from airflow_provider_databand_dbt.dbt_cloud.urls import is_loopback

    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        # getaddrinfo(None, port) means this machine.
        if host is not None and not is_loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: only loopback is reachable in the upstream check")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def tracking_without_retries() -> None:
    """Tracking's client makes one attempt per call here: its retries would only wait on a refused lookup."""
    from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy
    from airflow_provider_databand_dbt.hooks.dbt import DbtCloudTrackingHook

    get_tracking_client = DbtCloudTrackingHook.get_tracking_client

    def one_attempt(self, **client_options):
        client_options.setdefault("retry", RetryPolicy.no_retries())
        return get_tracking_client(self, **client_options)

    DbtCloudTrackingHook.get_tracking_client = one_attempt


_LINES = pytest.StashKey[list]()


def pytest_configure(config) -> None:
    loopback_only()
    tracking_without_retries()
    config.stash[_LINES] = substitute()


def pytest_report_header(config) -> list[str]:
    return ["databand substitution: " + line for line in config.stash.get(_LINES, [])]
