"""The installed dbt Cloud provider still has every internal we override or call (see provider_contract.py)."""

from __future__ import annotations

import inspect

import pytest

pytest.importorskip("airflow.providers.dbt.cloud")

from provider_contract import (
    CONTRACT,
    HOOK,
    OPERATOR,
    SENSOR,
    TRIGGER,
    Member,
    message,
    problems,
    resolve,
)


@pytest.mark.parametrize("member", CONTRACT, ids=lambda member: member.label)
def test_provider_member_is_as_we_rely_on_it(member):
    found = problems(member, resolve(member.owner))
    assert not found, message(member, found)


def _ours():
    from airflow_provider_databand_dbt.hooks.dbt import DbtCloudTrackingHook
    from airflow_provider_databand_dbt.operators.dbt import DbtCloudRunAndTrackOperator
    from airflow_provider_databand_dbt.sensors.dbt import DbtCloudRunAndTrackSensor
    from airflow_provider_databand_dbt.triggers.dbt import DbtCloudTrackingRunJobTrigger

    return [
        (DbtCloudTrackingHook, HOOK),
        (DbtCloudRunAndTrackOperator, OPERATOR),
        (DbtCloudRunAndTrackSensor, SENSOR),
        (DbtCloudTrackingRunJobTrigger, TRIGGER),
    ]


@pytest.mark.parametrize(("ours", "owner"), _ours(), ids=lambda value: getattr(value, "__name__", value))
def test_every_override_is_in_the_contract(ours, owner):
    """A new override of a provider member must be pinned here too, or an upgrade can break it silently."""
    provider_class = resolve(owner)
    pinned = {member.name for member in CONTRACT if member.owner == owner}
    ours_first = ours.__mro__[: ours.__mro__.index(provider_class)]
    overridden = {
        name
        for klass in ours_first
        for name in vars(klass)
        if (not name.startswith(("__", "_abc_")) or name == "__init__") and hasattr(provider_class, name)
    }
    assert overridden - pinned == set(), (
        f"{ours.__name__} overrides {sorted(overridden - pinned)} of {owner}: add them to CONTRACT"
    )


class _ChangedHook:
    """A provider hook as a future release might have it: renamed, re-typed and re-signed members."""

    default_conn_name = "dbt_cloud_default"

    def __init__(self, dbt_cloud_conn_id: str = "x", retry_limit: int = 1) -> None:
        self.dbt_cloud_conn_id = dbt_cloud_conn_id

    async def _a_get_retry_object(self):  # was a plain method returning the attempts
        return None

    def run_with_advanced_retry(self, retry_args, **kwargs):  # renamed parameter
        return None

    def get_job_details(self):
        return list(range(3))  # no longer iterates our attempts


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("_resolve_account_id", "DbtCloudHook._resolve_account_id is gone"),
        ("_a_get_retry_object", "DbtCloudHook._a_get_retry_object is no longer a plain (sync) method"),
        ("run_with_advanced_retry", "has parameters (retry_args, **kwargs), we expect (_retry_args, *args, **kwargs)"),
        ("get_job_details", "no longer contains `self._a_get_retry_object()`"),
        ("__init__", "has parameters (dbt_cloud_conn_id, retry_limit)"),
        ("retry_args", "DbtCloudHook.retry_args is no longer set by __init__"),
    ],
)
def test_a_changed_provider_fails_naming_the_member(name, expected, monkeypatch):
    import provider_contract

    (member,) = [m for m in CONTRACT if m.owner == HOOK and m.name == name]
    changed = type(
        "DbtCloudHook", (), {k: v for k, v in vars(_ChangedHook).items() if not k.startswith("__") or k == "__init__"}
    )
    monkeypatch.setattr(provider_contract, "_instance", lambda cls: cls("dbt_cloud_default"))
    found = problems(member, changed)
    text = message(member, found)
    assert found and expected in text, text
    assert text.startswith("apache-airflow-providers-dbt-cloud ") and "We rely on it: hooks/dbt.py" in text


def test_kinds_are_checked_statically():
    member = Member(HOOK, "connection", "cached_property", "why")
    plain = type("DbtCloudHook", (), {"connection": property(lambda self: None)})
    assert problems(member, plain) == ["is no longer a functools.cached_property (now property)"]
    assert inspect.isclass(resolve(HOOK))
