"""Airflow names that moved between 2.11 and 3.x, imported from one place.

The dbt Cloud provider already depends on ``apache-airflow-providers-common-compat``, whose ``sdk``
module resolves each name to ``airflow.sdk`` on Airflow 3 and to the old module on Airflow 2, so
our operators, sensors and hooks import from here and never test the Airflow version themselves.
"""

from __future__ import annotations

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowNotFoundException,
    AirflowSensorTimeout,
    BaseOperatorLink,
    TaskDeferred,
    XCom,
    conf,
    get_current_context,
)
from airflow.triggers.base import BaseTrigger, TriggerEvent

__all__ = [
    "AirflowException",
    "AirflowNotFoundException",
    "AirflowSensorTimeout",
    "BaseOperatorLink",
    "BaseTrigger",
    "TaskDeferred",
    "TriggerEvent",
    "XCom",
    "conf",
    "get_current_context",
]
