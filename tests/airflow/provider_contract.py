"""What we rely on in the dbt Cloud provider: every internal we override or call, with why.

Our hook, operator, sensor and trigger subclass the provider's and reach into some of its private
members. :data:`CONTRACT` lists each one; :func:`problems` checks the installed provider against it
and names the member that changed, so an upgrade fails in one clear line instead of deep in a DAG.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

PROVIDER = "airflow.providers.dbt.cloud"
HOOK = "hooks.dbt.DbtCloudHook"
OPERATOR = "operators.dbt.DbtCloudRunJobOperator"
SENSOR = "sensors.dbt.DbtCloudJobRunSensor"
TRIGGER = "triggers.dbt.DbtCloudRunJobTrigger"

# kind -> (test on inspect.getattr_static's value, words for the message)
_KINDS = {
    "method": (
        lambda v: inspect.isfunction(v) and not inspect.iscoroutinefunction(v) and not inspect.isasyncgenfunction(v),
        "a plain (sync) method",
    ),
    "async": (lambda v: inspect.iscoroutinefunction(v), "an async method"),
    "asyncgen": (lambda v: inspect.isasyncgenfunction(v), "an async generator method"),
    "static": (lambda v: isinstance(v, staticmethod), "a staticmethod"),
    "classmethod": (lambda v: isinstance(v, classmethod), "a classmethod"),
    "cached_property": (lambda v: isinstance(v, functools.cached_property), "a functools.cached_property"),
    "class_attr": (lambda v: True, "a class attribute"),
}


@dataclass(frozen=True)
class Member:
    """One provider member we depend on.

    :param owner: ``module.Class`` under ``airflow.providers.dbt.cloud``, or ``module`` for a module name.
    :param name: the member's name.
    :param kind: a key of ``_KINDS``, ``instance_attr`` (set by ``__init__``) or ``module_attr``.
    :param params: exact parameter names after self/cls (``*args``, ``**kwargs`` spelled so), when we
        override it and so must accept what the provider's callers pass.
    :param accepts: parameter names that must exist, when we call it with them.
    :param calls: text the member's source must contain: a call of the provider's into our override.
    :param why: where and how we rely on it (part of the failure message).
    """

    owner: str
    name: str
    kind: str
    why: str
    params: tuple[str, ...] | None = None
    accepts: tuple[str, ...] = ()
    calls: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.owner.rsplit('.', 1)[-1] if self.kind != 'module_attr' else self.owner}.{self.name}"


_H = "hooks/dbt.py DbtCloudTrackingHook"
_M = "utils/tracking.py RunTrackingMixin"
CONTRACT: tuple[Member, ...] = (
    # --- the hook ---------------------------------------------------------------------------
    Member(
        HOOK,
        "__init__",
        "method",
        f"{_H}.__init__ passes them on",
        params=("dbt_cloud_conn_id", "timeout_seconds", "retry_limit", "retry_delay", "retry_args"),
    ),
    Member(HOOK, "default_conn_name", "class_attr", f"{_H}.__init__ default"),
    Member(HOOK, "hook_name", "class_attr", f"{_H} renames it"),
    Member(
        HOOK,
        "get_connection",
        "classmethod",
        f"{_H} overrides it for a clearer not-found message",
        accepts=("conn_id",),
    ),
    Member(HOOK, "_resolve_connection_async", "async", f"{_H} overrides it (dags test fallback)", params=()),
    Member(HOOK, "_require_password", "static", f"{_H} overrides it with a clearer message", params=("conn",)),
    Member(HOOK, "_resolve_account_id", "method", f"{_H} overrides it to validate the Login", params=()),
    Member(HOOK, "_resolve_account_id_async", "async", f"{_H} overrides it to validate the Login", params=()),
    Member(HOOK, "connection", "cached_property", f"{_H} reads it and fills its cache in _resolve_connection_async"),
    Member(HOOK, "get_conn", "method", f"{_H} overrides it to set base_url", params=("*args", "**kwargs")),
    Member(
        HOOK,
        "get_request_url_params",
        "static",
        f"{_H} overrides it to accept a base URL",
        params=("tenant", "endpoint", "include_related", "api_version"),
    ),
    Member(
        HOOK, "get_headers_tenants_from_connection", "async", f"{_H} overrides it to keep scheme and port", params=()
    ),
    Member(HOOK, "check_response", "method", f"{_H} overrides it for retryable and clear errors", params=("response",)),
    Member(
        HOOK,
        "run_with_advanced_retry",
        "method",
        f"{_H} overrides it to retry under RetryPolicy",
        params=("_retry_args", "*args", "**kwargs"),
    ),
    Member(HOOK, "_a_get_retry_object", "method", f"{_H} overrides it to retry under RetryPolicy", params=()),
    Member(
        HOOK,
        "get_job_details",
        "async",
        f"{_H}._a_get_retry_object must be what it iterates",
        calls=("self._a_get_retry_object()", "with attempt"),
    ),
    Member(
        HOOK,
        "_run_and_get_response",
        "method",
        f"{_H}.run_with_advanced_retry reads self.method",
        calls=("self.method = method", "self.run_with_advanced_retry("),
    ),
    Member(
        HOOK,
        "_paginate",
        "method",
        f"{_H}.run_with_advanced_retry must see paginated calls",
        calls=("self.run_with_advanced_retry(",),
    ),
    Member(
        HOOK, "run", "method", f"{_H}.run_with_advanced_retry calls it", accepts=("endpoint", "data", "extra_options")
    ),
    Member(
        HOOK,
        "_retryable_error",
        "static",
        "triggers/dbt.py keeps polling when it says retryable",
        params=("exception",),
    ),
    Member(HOOK, "test_connection", "method", f"{_H} overrides it with an authenticated check", params=()),
    Member(HOOK, "get_account", "method", f"{_H}.test_connection calls it", accepts=("account_id",)),
    Member(HOOK, "get_job_status", "async", "triggers/dbt.py polls with it", accepts=("run_id", "account_id")),
    *(
        Member(HOOK, name, "instance_attr", f"{_H} reads it")
        for name in ("dbt_cloud_conn_id", "retry_limit", "retry_delay", "retry_args", "timeout_seconds")
    ),
    Member("hooks.dbt", "DbtCloudResourceLookupError", "module_attr", "operators/dbt.py catches and re-raises it"),
    Member("hooks.dbt", "DbtCloudJobRunException", "module_attr", "sensors/dbt.py tracks the run before it propagates"),
    Member("hooks.dbt", "DbtCloudJobRunStatus", "module_attr", "triggers/dbt.py maps SUCCESS/ERROR/CANCELLED"),
    # --- the operator -----------------------------------------------------------------------
    Member(
        OPERATOR,
        "__init__",
        "method",
        "operators/dbt.py passes its keyword arguments on",
        accepts=(
            "dbt_cloud_conn_id",
            "job_id",
            "project_name",
            "environment_name",
            "job_name",
            "account_id",
            "hook_params",
            "deferrable",
            "wait_for_termination",
        ),
    ),
    Member(OPERATOR, "template_fields", "class_attr", "operators/dbt.py extends it with tracking_url"),
    Member(OPERATOR, "operator_extra_links", "class_attr", "operators/dbt.py adds the tracked-run link"),
    Member(OPERATOR, "_resolve_job_id", "method", "operators/dbt.py overrides it and calls it", params=()),
    Member(
        OPERATOR,
        "execute",
        "method",
        "operators/dbt.py tracks around it; our defer swaps its trigger",
        params=("context",),
        calls=("self.defer(", "DbtCloudRunJobTrigger(", "self.run_id", "self._get_or_trigger_run(context)"),
    ),
    Member(OPERATOR, "execute_complete", "method", "operators/dbt.py tracks around it", params=("context", "event")),
    Member(
        OPERATOR,
        "_get_or_trigger_run",
        "method",
        "operators/reattach.py overrides it to reattach to a dead try's run or trigger with a token",
        params=("context",),
    ),
    Member(
        OPERATOR,
        "on_kill",
        "method",
        "operators/reattach.py records the try's end, then cancels as the provider",
        params=(),
    ),
    Member(OPERATOR, "hook", "cached_property", f"{_M}.hook replaces it"),
    Member(
        OPERATOR,
        "defer",
        "method",
        f"{_M}.defer swaps the provider's trigger",
        accepts=("trigger", "method_name", "kwargs", "timeout"),
    ),
    *(
        Member(OPERATOR, name, "instance_attr", "operators/dbt.py and utils/tracking.py read it")
        for name in (
            "dbt_cloud_conn_id",
            "account_id",
            "hook_params",
            "job_id",
            "project_name",
            "environment_name",
            "job_name",
            "run_id",
        )
    ),
    Member("operators.dbt", "DbtCloudHook", "module_attr", f"{_M}.hook builds the hook through this name"),
    Member("operators.dbt", "DbtCloudRunJobTrigger", "module_attr", f"{_M}.defer recognizes it"),
    # --- the sensor -------------------------------------------------------------------------
    Member(
        SENSOR,
        "__init__",
        "method",
        "sensors/dbt.py passes its keyword arguments on",
        accepts=("dbt_cloud_conn_id", "run_id", "account_id", "hook_params", "deferrable"),
    ),
    Member(SENSOR, "template_fields", "class_attr", "sensors/dbt.py extends it with tracking_url"),
    Member(SENSOR, "operator_extra_links", "class_attr", "sensors/dbt.py sets the tracked-run link"),
    Member(SENSOR, "poke", "method", "sensors/dbt.py tracks when it finishes or raises", params=("context",)),
    Member(
        SENSOR,
        "execute",
        "method",
        "sensors/dbt.py tracks on timeout; our defer swaps its trigger",
        params=("context",),
        calls=("self.defer(", "DbtCloudRunJobTrigger("),
    ),
    Member(SENSOR, "execute_complete", "method", "sensors/dbt.py tracks around it", params=("context", "event")),
    Member(SENSOR, "hook", "cached_property", f"{_M}.hook replaces it"),
    Member(
        SENSOR,
        "defer",
        "method",
        f"{_M}.defer swaps the provider's trigger",
        accepts=("trigger", "method_name", "kwargs", "timeout"),
    ),
    *(
        Member(SENSOR, name, "instance_attr", "sensors/dbt.py and utils/tracking.py read it")
        for name in ("dbt_cloud_conn_id", "account_id", "hook_params", "run_id")
    ),
    Member("sensors.dbt", "DbtCloudHook", "module_attr", f"{_M}.hook builds the hook through this name"),
    # --- the trigger ------------------------------------------------------------------------
    Member(
        TRIGGER,
        "__init__",
        "method",
        "triggers/dbt.py from_provider_trigger passes serialize()'s kwargs",
        accepts=("conn_id", "run_id", "end_time", "poll_interval", "account_id", "hook_params", "execution_deadline"),
    ),
    Member(TRIGGER, "serialize", "method", "triggers/dbt.py overrides it (own classpath)", params=()),
    Member(TRIGGER, "run", "asyncgen", "triggers/dbt.py overrides it to poll with our hook", params=()),
    *(
        Member(TRIGGER, name, "instance_attr", "triggers/dbt.py reads it")
        for name in (
            "conn_id",
            "run_id",
            "end_time",
            "poll_interval",
            "account_id",
            "hook_params",
            "execution_deadline",
        )
    ),
)


def _instance(cls: type) -> Any:
    """A provider object built without Airflow context, to see what its ``__init__`` sets."""
    if cls.__name__ == "DbtCloudHook":
        return cls("dbt_cloud_default")
    if cls.__name__ == "DbtCloudRunJobTrigger":
        return cls(conn_id="c", run_id=1, end_time=0.0, poll_interval=1.0, account_id=None)
    if cls.__name__ == "DbtCloudJobRunSensor":
        return cls(task_id="contract_sensor", run_id=1)
    return cls(task_id="contract_operator", job_id=1)


def resolve(owner: str) -> Any:
    """The provider's module (``hooks.dbt``) or class (``hooks.dbt.DbtCloudHook``)."""
    module_name, _, cls_name = owner.rpartition(".") if owner.count(".") > 1 else (owner, "", "")
    module = importlib.import_module(f"{PROVIDER}.{module_name}")
    return getattr(module, cls_name) if cls_name else module


def _param_names(function: Any) -> list[str]:
    names = []
    for param in inspect.signature(function).parameters.values():
        prefix = {param.VAR_POSITIONAL: "*", param.VAR_KEYWORD: "**"}.get(param.kind, "")
        names.append(prefix + param.name)
    return names[1:] if names and names[0] in ("self", "cls") else names


def problems(member: Member, target: Any) -> list[str]:
    """What in ``target`` (the provider's class or module) breaks ``member``; [] when it holds."""
    if member.kind == "module_attr":
        return [] if hasattr(target, member.name) else ["is gone"]
    if member.kind == "instance_attr":
        try:
            instance = _instance(target)
        except Exception as exc:  # noqa: BLE001 - reported as the contract failure it is
            return [f"cannot be checked: building {target.__name__} failed ({type(exc).__name__}: {exc})"]
        return [] if hasattr(instance, member.name) else ["is no longer set by __init__"]
    try:
        value = inspect.getattr_static(target, member.name)
    except AttributeError:
        return ["is gone"]
    check, words = _KINDS[member.kind]
    found = []
    if not check(value):
        found.append(f"is no longer {words} (now {type(value).__name__})")
    function = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
    if callable(function) and (member.params is not None or member.accepts):
        names = _param_names(function)
        if member.params is not None and names != list(member.params):
            found.append(f"has parameters ({', '.join(names)}), we expect ({', '.join(member.params)})")
        missing = [name for name in member.accepts if name not in names]
        if missing:
            found.append(f"no longer takes {', '.join(missing)}")
    if member.calls:
        source = inspect.getsource(inspect.unwrap(function))
        found += [f"no longer contains `{text}`" for text in member.calls if text not in source]
    return found


def message(member: Member, found: list[str]) -> str:
    """One line naming the provider version, the member, what changed and what of ours depends on it."""
    return (
        f"apache-airflow-providers-dbt-cloud {version('apache-airflow-providers-dbt-cloud')}: "
        f"{member.label} {'; '.join(found)}. We rely on it: {member.why}."
    )
